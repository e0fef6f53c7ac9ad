"""Fixtures every test package may use: throwaway databases on the real services.

`pg_url` and `redis_url` give each test a database of its own on the local
PostgreSQL and Redis (TEST_PG_URL / TEST_REDIS_URL point elsewhere; these names
avoid the SUPERVISE_ prefix, which start-up checks for typos). When a service
is down the test is skipped, loudly: a warning per test and a banner at the end.
In CI (CI=true) a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
CONNECT_TIMEOUT = 3

_missing_services: dict[str, str] = {}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _service_missing(name: str, error: Exception) -> None:
    message = f"{name} is unreachable ({type(error).__name__}: {error})".strip()
    if _in_ci():
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip", pytrace=False)
    _missing_services[name] = message
    warnings.warn(f"SKIPPED: {message}", UserWarning, stacklevel=2)
    pytest.skip(f"{message} — test NOT run")


def pytest_terminal_summary(terminalreporter):
    if _missing_services:
        terminalreporter.section("SERVICES MISSING: tests were skipped", sep="!", red=True, bold=True)
        for message in _missing_services.values():
            terminalreporter.line(message, red=True)


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def pg_url():
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test."""
    import psycopg
    from sqlalchemy.engine import make_url

    try:
        admin = psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        _service_missing(f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()}", exc)
    name = f"test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    """URL of a Redis database number that this test holds alone, flushed after it
    (see tests/redis_claim.py: the benchmarks claim theirs the same way)."""
    import redis

    from tests.redis_claim import claimed_database

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=CONNECT_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT).ping()
    except redis.RedisError as exc:
        _service_missing(f"Redis at {REDIS_URL}", exc)
    with claimed_database(REDIS_URL, hold_seconds=900) as url:
        if url is None:
            pytest.fail("no free Redis database number (1–15) to test in")
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def chromium_path() -> str:
    """Debian's chromium; in CI a missing browser is a failure, locally a loud skip."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        _service_missing("chromium (apt-get install chromium)", FileNotFoundError("not installed"))
    return path
