"""`supervise simulate` from the command line: determinism, refusals, summary, and a clean stop."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from app.simulate.command import simulate_command

SMALL = ["--backfill", "2", "--until", "2026-11-03", "--scale", "0.02", "--quiet"]


def _run(*args: str):
    result = CliRunner().invoke(simulate_command, list(args), catch_exceptions=False)
    return result


def _dump(path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}


def test_help_explains_every_option():
    result = _run("--help")
    assert result.exit_code == 0
    for option in (
        "--exchange-url",
        "--seed",
        "--scale",
        "--backfill",
        "--until",
        "--live",
        "--speed",
        "--writers",
        "--camera-url",
        "--summary",
        "--quiet",
        "Examples:",
    ):
        assert option in result.output


def test_same_seed_same_rows_byte_for_byte(tmp_path):
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        result = _run("--exchange-url", f"sqlite:///{tmp_path / name}.db", "--seed", seed, *SMALL)
        assert result.exit_code == 0, result.output
        assert "Backfill wrote" in result.output and "bad rows" in result.output
    a, b, c = (_dump(tmp_path / f"{n}.db") for n in "abc")
    assert len(a["case_events"]) > 1000
    assert a == b
    assert a["case_events"] != c["case_events"] and a["centers"] == c["centers"]


def test_backfill_refuses_a_database_that_holds_events(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert _run("--exchange-url", url, *SMALL).exit_code == 0
    again = _run("--exchange-url", url, *SMALL)
    assert again.exit_code == 1 and "already holds" in again.output


def test_summary_alone_reads_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _run("--exchange-url", url, *SMALL)
    result = _run("--exchange-url", url, "--summary")
    assert result.exit_code == 0
    assert "Exchange database:" in result.output and "received by level" in result.output


def test_without_an_action_only_schema_and_reference_data(tmp_path):
    result = _run("--exchange-url", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 0
    counts = {t: len(rows) for t, rows in _dump(tmp_path / "x.db").items()}
    assert counts["centers"] == 127 and counts["case_events"] == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--until", "2026-11-03"], "--until needs --backfill"),
        (["--speed", "10"], "only apply with --live"),
        (["--live", "--backfill", "2", "--until", "2026-11-03"], "cannot follow"),
        (["--camera-url", "rtsp://{host}/x"], "only {n} and {window_id}"),
        (["--now", "2026-11-03T09:00:00"], "give the offset"),
    ],
)
def test_bad_combinations_are_refused_with_a_reason(tmp_path, args, message):
    result = _run("--exchange-url", f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert result.exit_code == 2 and message in result.output


def test_live_mode_stops_cleanly_on_sigterm(tmp_path):
    db = tmp_path / "x.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "simulate",
            "--exchange-url",
            f"sqlite:///{db}",
            "--live",
            "--speed",
            "3600",
            "--scale",
            "0.02",
            "--now",
            "2026-11-03T09:00:00+08:00",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until rows flow
        time.sleep(0.5)
        if db.exists() and _count(db) > 100:
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Live mode wrote" in out
    assert _count(db) > 100


def _count(db) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
