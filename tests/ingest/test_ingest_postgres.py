"""The ingest against real PostgreSQL: rows that commit out of id order, and
several ingest processes with one active."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import create_engine, text

from .conftest import Supervise
from .exchange_builder import Exchange, local

pytestmark = pytest.mark.slow


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def pg_exchange(pg_url) -> Exchange:
    return Exchange(pg_url)


@pytest.fixture
def pg_supervise(pg_url, tmp_path, monkeypatch) -> Supervise:
    monkeypatch.delenv("SUPERVISE_REDIS_URL", raising=False)
    # The exchange and supervision tables share one throwaway database; their names never collide.
    return Supervise({"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_EXCHANGE_URL": pg_url, "SUPERVISE_DB_URL": pg_url})


def _insert(conn: psycopg.Connection, case_no: str, kind: str, occurred: str, item_code=None) -> int:
    at = local(occurred)
    return conn.execute(
        "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, center_id, dept_id, item_code, payload) "
        "VALUES (%s, %s, %s, %s, 'GX-450100', 'D-SCJG', %s, '{}') RETURNING event_id",
        (case_no, kind, at, at + timedelta(seconds=1), item_code),
    ).fetchone()[0]


def _taken_in(pg_url) -> list[int]:
    with create_engine(pg_url).connect() as conn:
        return list(conn.execute(text("SELECT event_id FROM events ORDER BY event_id")).scalars())


def test_a_row_that_commits_after_a_larger_id_was_read_is_still_taken_in(pg_url, pg_exchange, pg_supervise):
    slow = psycopg.connect(_libpq(pg_url))  # a writer whose transaction stays open
    fast = psycopg.connect(_libpq(pg_url), autocommit=True)
    rolled_back = psycopg.connect(_libpq(pg_url))
    try:
        small = _insert(slow, "P1", "received", "2025-11-03 09:00", "ITEM-W")
        lost = _insert(rolled_back, "P3", "received", "2025-11-03 09:00", "ITEM-W")
        large = _insert(fast, "P2", "received", "2025-11-03 09:05", "ITEM-W")
        assert small < lost < large

        pg_supervise.ingest("2025-11-03T12:00:00+08:00")
        assert _taken_in(pg_url) == [large]

        slow.commit()  # commits after the larger id was already read
        rolled_back.rollback()
        pg_supervise.ingest("2025-11-03T12:00:00+08:00")
        assert _taken_in(pg_url) == [small, large]  # nothing lost, nothing twice
        assert {c: pg_supervise.case(c)["status"] for c in ("P1", "P2")} == {"P1": "received", "P2": "received"}

        def cursor():
            with create_engine(pg_url).connect() as conn:
                return conn.execute(
                    text("SELECT watermark, gaps FROM ingest_cursor WHERE source = 'case_events'")
                ).one()

        # The rolled-back id is proven gone once every transaction older than the pin has
        # ended, cluster-wide: other sessions on a shared server can hold that back a while.
        deadline = time.monotonic() + 20
        while cursor().gaps and time.monotonic() < deadline:
            time.sleep(0.5)
            pg_supervise.ingest("2025-11-03T12:00:00+08:00")
        assert cursor().watermark == large and cursor().gaps == []
        assert _taken_in(pg_url) == [small, large]
    finally:
        for conn in (slow, fast, rolled_back):
            conn.close()


def _start_follower(pg_url, tmp_path, name: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    env |= {"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_EXCHANGE_URL": pg_url, "SUPERVISE_DB_URL": pg_url}
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "app.cli", "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_for(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def test_one_ingest_is_active_and_another_takes_over_when_it_dies(pg_url, pg_exchange, pg_supervise, tmp_path):
    pg_supervise("db", "upgrade")
    first = _start_follower(pg_url, tmp_path, "first")
    _wait_for(lambda: "now the active one" in (tmp_path / "first.log").read_text(), 20)
    second = _start_follower(pg_url, tmp_path, "second")
    try:
        _wait_for(lambda: "standing by" in (tmp_path / "second.log").read_text(), 20)
        pg_exchange.event("L1", "received", "2025-11-03 09:00", item_code="ITEM-W")
        _wait_for(lambda: len(_taken_in(pg_url)) == 1, 10)

        first.kill()  # kill -9: no clean release
        first.wait()
        pg_exchange.event("L2", "received", "2025-11-03 09:10", item_code="ITEM-W")
        took = _wait_for(lambda: len(_taken_in(pg_url)) == 2, 15)
        assert "now the active one" in (tmp_path / "second.log").read_text()
        assert took < 10
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_upstream_text_postgresql_cannot_hold_is_set_aside_and_the_rest_taken_in(
    exchange, tmp_path, pg_url, monkeypatch
):
    """A SQLite exchange database can hold a NUL character in text and NaN in JSON;
    PostgreSQL can hold neither. Such rows go to the quality log with a reason (their
    text shown, the NUL escaped), and the good rows beside them are taken in."""
    monkeypatch.delenv("SUPERVISE_REDIS_URL", raising=False)
    row = (
        "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, item_code, center_id, payload) "
        "VALUES ({case_no}, 'received', '2026-09-29T10:00:00+08:00', '2026-09-29T10:00:05+08:00', 'ITEM-W', "
        "{center}, {payload})"
    )
    exchange.event("GOOD-1", "received", "2026-09-29 10:00", item_code="ITEM-W")
    exchange.raw(row.format(case_no="'NAN'", center="'GX-450100'", payload="'{\"n\": NaN}'"))
    exchange.raw(row.format(case_no="'ESCAPED-NUL'", center="'GX-450100'", payload='\'{"note": "a\\u0000b"}\''))
    exchange.raw(row.format(case_no="'CASE' || char(0)", center="'GX-450100'", payload="'{}'"))
    exchange.raw(row.format(case_no="'NUL-CENTER'", center="'GX-45' || char(0)", payload="'{}'"))
    exchange.event("GOOD-2", "received", "2026-09-29 10:05", item_code="ITEM-W")
    supervise = Supervise(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": str(exchange.engine.url),
            "SUPERVISE_DB_URL": pg_url,
        }
    )
    supervise.ingest("2026-10-13T00:00:00+08:00")
    with create_engine(pg_url).connect() as conn:
        taken = set(conn.execute(text("SELECT case_no FROM events")).scalars())
        reasons = dict(conn.execute(text("SELECT row->>'case_no', reason FROM quality_log")).all())
    assert taken == {"GOOD-1", "GOOD-2"}
    assert "NaN" in reasons["NAN"] and "not a JSON number" in reasons["NAN"]
    assert "NUL" in reasons["ESCAPED-NUL"]
    assert "case_no" in reasons["CASE\\u0000"] and "NUL" in reasons["CASE\\u0000"]
    assert "center_id" in reasons["NUL-CENTER"]
