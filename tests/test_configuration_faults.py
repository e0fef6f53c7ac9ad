"""Configuration faults end a command with one line naming the setting or the database, and exit 2.

Each row is a fault an operator makes (a mistyped URL, a database not created,
an exchange database missing a contract table). The real `supervise` command
runs in a process of its own, as an operator runs it: it must end at once (or,
for a database that cannot be reached, after SUPERVISE_DB_START_WAIT), with exit
2, no traceback, no password, and its last line saying what to fix. Nothing is
committed before a missing table is found.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ingest.exchange_builder import Exchange

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "s3cret-pw"


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """The last line of stderr, once the run is known to have ended as a configuration fault should."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and PASSWORD not in output, output
    last = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in last, last
    return last


@pytest.fixture
def exchange_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    Exchange(url)
    return url


# Every command that opens the supervision database, given a URL it cannot read.
COMMANDS = [
    ("ingest", "--once"),
    ("alarms", "--json"),
    ("serve", "--port", "1"),
    ("video", "--once-seconds", "0"),
    ("sms", "send", "--once"),
    ("kpi", "refresh"),
    ("db", "upgrade"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_an_unreadable_database_url_is_one_line_for_every_command(tmp_path, exchange_url, command):
    # A slash short after the scheme.
    result = _run(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": exchange_url,
            "SUPERVISE_DB_URL": f"postgresql+psycopg//postgres:{PASSWORD}@127.0.0.1/x",
        },
        *command,
    )
    _refused(result, "SUPERVISE_DB_URL", "not a database URL")


def test_a_database_without_a_driver_here_is_one_line(tmp_path, exchange_url):
    result = _run(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": exchange_url,
            "SUPERVISE_DB_URL": f"mysql://root:{PASSWORD}@127.0.0.1/x",
        },
        "ingest",
        "--once",
    )
    _refused(result, "SUPERVISE_DB_URL", "not supported")


@pytest.mark.parametrize("url", [f"postgresql+psycopg//postgres:{PASSWORD}@127.0.0.1/x", f"oracle://u:{PASSWORD}@h/x"])
def test_an_unreadable_exchange_url_names_its_own_setting(tmp_path, url):
    _refused(
        _run({"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_EXCHANGE_URL": url}, "ingest", "--once"),
        "SUPERVISE_EXCHANGE_URL",
    )


@pytest.mark.slow
def test_a_database_that_does_not_exist_is_refused_at_once(tmp_path, exchange_url):
    # Were the refusal waited out like an outage, the command would wait 600 s and _run's 60 s would end it.
    result = _run(
        {
            "SUPERVISE_DB_START_WAIT": "600",
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": exchange_url,
            "SUPERVISE_DB_URL": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/no_such_db_i10",
        },
        "ingest",
        "--once",
    )
    last = _refused(result, "supervision database", "SUPERVISE_DB_URL", "does not exist")
    assert "refuses" in last


@pytest.mark.slow
@pytest.mark.parametrize("command", [("ingest", "--once"), ("alarms", "--json")], ids=lambda c: " ".join(c))
def test_an_unreachable_database_is_waited_for_then_refused(tmp_path, exchange_url, command):
    # Nothing listens on port 1: as a wrong host or port looks. Waited for SUPERVISE_DB_START_WAIT
    # (it may be starting with us), then a configuration fault; never a wait without end.
    started = time.monotonic()
    result = _run(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": exchange_url,
            "SUPERVISE_DB_URL": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/x",
            "SUPERVISE_DB_START_WAIT": "3",
        },
        *command,
    )
    _refused(result, "cannot reach the supervision database", "SUPERVISE_DB_URL", "in 3 s")
    assert 3 <= time.monotonic() - started < 30
    assert "is unavailable" in result.stderr, "the wait itself is said, in one line"


def test_an_unreachable_exchange_database_names_the_exchange(tmp_path):
    result = _run(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_DB_START_WAIT": "1",
            "SUPERVISE_EXCHANGE_URL": f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/x",
        },
        "ingest",
        "--once",
    )
    _refused(result, "cannot reach the exchange database", "SUPERVISE_EXCHANGE_URL")


def test_no_exchange_database_file(tmp_path):
    result = _run(
        {"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_EXCHANGE_URL": f"sqlite:///{tmp_path}/none.db"},
        "ingest",
        "--once",
    )
    _refused(result, "no exchange database", "SUPERVISE_EXCHANGE_URL")
    assert not (tmp_path / "none.db").exists(), "looking for it must not create it"


@pytest.mark.parametrize(
    "damage, words",
    [
        # each contract table the ingest reads after it has taken in case events
        ("DROP TABLE items", ["items"]),
        ("DROP TABLE onsite_ratings", ["onsite_ratings"]),
        ("DROP TABLE cameras", ["cameras"]),
        ("DROP TABLE case_events", ["case_events"]),
        # a column, not only a table
        ("ALTER TABLE items DROP COLUMN fee_yuan", ["items.fee_yuan"]),
    ],
)
def test_an_exchange_database_missing_a_contract_table_stops_the_ingest_before_it_commits(tmp_path, damage, words):
    exchange = Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")
    exchange.event("C1", "received", "2026-09-29 09:00", item_code="ITEM-W")
    exchange.engine.dispose()
    with sqlite3.connect(tmp_path / "exchange.db") as raw:
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute(damage)
    db = tmp_path / "supervise.db"
    result = _run(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": f"sqlite:///{tmp_path / 'exchange.db'}",
            "SUPERVISE_DB_URL": f"sqlite:///{db}",
        },
        "ingest",
        "--once",
    )
    _refused(result, "exchange database", "SUPERVISE_EXCHANGE_URL", *words)
    if db.exists():
        with sqlite3.connect(db) as raw:
            tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert "events" not in tables or raw.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_video_names_the_database_at_fault(tmp_path, exchange_url):
    # The supervision database refuses (not the exchange, where the cameras are): say so.
    (tmp_path / "not-a-dir").write_text("")
    result = _run(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": exchange_url,
            "SUPERVISE_DB_URL": f"sqlite:///{tmp_path}/not-a-dir/supervise.db",
        },
        "video",
        "--once-seconds",
        "0",
    )
    last = _refused(result, "supervision database")
    assert "exchange" not in last
    # And an exchange database without cameras names the exchange and the table.
    with sqlite3.connect(tmp_path / "exchange.db") as raw:
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("DROP TABLE cameras")
    result = _run(
        {"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_EXCHANGE_URL": exchange_url}, "video", "--once-seconds", "0"
    )
    _refused(result, "exchange database", "cameras")


def test_healthz_names_a_missing_or_broken_exchange_database(tmp_path):
    from app.base.settings import Settings
    from app.web import create_app

    settings = Settings(var_dir=tmp_path, exchange_url=f"sqlite:///{tmp_path / 'nothing-here.db'}")
    client = create_app(settings, background=False).test_client()
    health = client.get("/healthz")
    assert health.status_code == 200  # the dashboard still serves what the supervision database holds
    body = health.json
    assert body["status"] == "degraded" and body["exchange"] is False and body["database"] is True
    assert "case_events" in body["failing"]["exchange"]
