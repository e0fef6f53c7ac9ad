"""kill -9 at any instant loses nothing and counts nothing twice.

A small simulated region is backfilled through the ingest twice: once without
interruption into one supervision database, and once into another while the
process is killed with SIGKILL at random instants and restarted each time.
Because the cursor commits in the same transaction as the results it
produced, the two databases must end up identical: cases, alarms by key and
state, the audit trail by alarm key/action/instant, the quality log and the
events.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, _libpq

# Three full backfills with kills between: minutes on a loaded machine, past pytest's default 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-20T00:00:00+08:00"
# Ingested first as of two days earlier, then as of NOW: the second run closes, retracts and
# moves alarms the first one fired, so updates are crashed into as well as inserts.
EARLIER = "2026-11-18T12:00:00+08:00"
BATCH = "50"  # many small transactions, so a kill lands between and inside them
KILLS = 6


@pytest.fixture
def databases(pg_url):
    """The exchange database (pg_url) and two empty supervision databases."""
    admin = psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True)
    names = [f"test_{os.getpid()}_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        yield pg_url, *(make_url(PG_ADMIN_URL).set(database=n).render_as_string(hide_password=False) for n in names)
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _env(exchange_url: str, db_url: str, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    return env | {"SUPERVISE_EXCHANGE_URL": exchange_url, "SUPERVISE_DB_URL": db_url, "SUPERVISE_VAR_DIR": str(var)}


def _supervise(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ingest(env: dict[str, str], now: str) -> subprocess.Popen:
    return _supervise(env, "ingest", "--once", "--now", now, "--batch-size", BATCH, "--wait-for-lock", "60")


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


def _progress(db_url: str, now: str) -> tuple[int, int]:
    """(events stored, cases due for judgement at `now`) as committed so far."""
    with psycopg.connect(_libpq(db_url)) as conn:
        try:
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            due = conn.execute("SELECT count(*) FROM cases WHERE next_change <= %s", (now,)).fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0, 0
    return events, due


def _dump(db_url: str) -> dict[str, list]:
    """Everything the ingest concluded, without the ids a crash may skip."""
    queries = {
        "cases": "SELECT * FROM cases ORDER BY case_no",
        "alarms": "SELECT kind, case_no, subject, level, center_id, dept_id, window_id, staff_id, camera_id, "
        "fired_at, due, state, closed_reason, closed_at, acknowledged_at, urged_at, updated_at "
        "FROM alarms ORDER BY kind, case_no, subject",
        "alarm_actions": "SELECT a.kind, a.case_no, a.subject, x.action, x.at, x.actor, x.note "
        "FROM alarm_actions x JOIN alarms a ON a.id = x.alarm_id "
        "ORDER BY a.kind, a.case_no, a.subject, x.at, x.action",
        "quality_log": "SELECT source, event_id, reason, row::text, logged_at FROM quality_log "
        "ORDER BY source, event_id, reason",
        "events": "SELECT event_id, case_no, kind, occurred_at, recorded_at, source_system, center_id, dept_id, "
        "window_id, staff_id, item_code, payload::text, dup_key, held FROM events ORDER BY event_id",
    }
    with psycopg.connect(_libpq(db_url)) as conn:
        return {table: [tuple(row) for row in conn.execute(sql)] for table, sql in queries.items()}


def _watch(proc: subprocess.Popen, db_url: str, now: str, until) -> tuple[int, int] | None:
    """Poll the committed progress while `proc` runs; the progress at which `until(progress)`
    first held, or None if the process ended first."""
    before = _progress(db_url, now)
    while proc.poll() is None:
        progress = _progress(db_url, now)
        if progress != before and until(progress):
            return progress
        time.sleep(0.01)
    return None


def test_killed_and_restarted_ingest_ends_identical_to_an_uninterrupted_one(databases, tmp_path):
    exchange_url, calm_url, crashed_url = databases
    simulate = _supervise(
        _env(exchange_url, calm_url, tmp_path),
        "simulate",
        "--exchange-url",
        exchange_url,
        "--scale",
        "0.01",
        "--backfill",
        "5",
        "--now",
        NOW,
        "--quiet",
    )
    _finish(simulate)
    for url in (calm_url, crashed_url):
        _finish(_supervise(_env(exchange_url, url, tmp_path), "db", "upgrade"))

    # The uninterrupted runs, the first one timed from its first commit to its end.
    calm = _ingest(_env(exchange_url, calm_url, tmp_path), EARLIER)
    _watch(calm, calm_url, EARLIER, lambda progress: True)
    first_commit = time.monotonic()
    _finish(calm)
    working = time.monotonic() - first_commit
    after_first = _dump(calm_url)
    _finish(_ingest(_env(exchange_url, calm_url, tmp_path), NOW))
    expected = _dump(calm_url)
    assert expected["events"] and expected["alarms"] and expected["quality_log"]
    assert expected["alarms"] != after_first["alarms"], "the second instant changed no alarm"

    rng = random.Random(int(os.environ.get("CRASH_SEED", "0")) or None)
    env = _env(exchange_url, crashed_url, tmp_path)
    kills = {}
    for now in (EARLIER, NOW):
        kills[now] = _crash_repeatedly(env, crashed_url, now, len(expected["events"]), working, rng)
        _finish(_ingest(env, now))

    assert len(kills[EARLIER]) >= 3, f"too few kills landed mid-run to prove anything: {kills}"
    actual = _dump(crashed_url)
    for table, rows in expected.items():
        assert actual[table] == rows, f"{table} differs after kills at {kills}"


def _crash_repeatedly(env, db_url: str, now: str, total: int, working: float, rng: random.Random) -> list:
    """Start and kill -9 the ingest until KILLS kills left work undone; their progress."""
    mid_run = []  # committed progress at each kill that left work undone
    for attempt in range(KILLS * 3):
        if len(mid_run) >= KILLS:
            break
        before = _progress(db_url, now)
        proc = _ingest(env, now)
        # Once this run has committed something (in the later attempts: once it is
        # judging, all events in), kill it at a random instant soon after. Each restart
        # resumes where the last one stopped, so the work left shrinks.
        judging = attempt >= KILLS // 2
        if _watch(proc, db_url, now, (lambda p: p[0] >= total) if judging else (lambda p: True)) is not None:
            time.sleep(rng.uniform(0, working / KILLS / (4 if judging else 1)))
        if proc.poll() is not None:
            break  # it finished before the kill: nothing is left to interrupt
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        progress = _progress(db_url, now)
        if progress != before and (progress[0] < total or progress[1]):
            mid_run.append(progress)
    return mid_run
