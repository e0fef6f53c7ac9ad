"""Benchmark: what reading exchange rows again to notice upstream changes costs (ingest/row_checks.py).

Uses the simulated month that ``bench/ingest.py`` keeps (``bench_ingest_x_0_1_30``:
276,400 rows; written first if missing), taken in once by ``supervise ingest --once``
into a supervision database kept for the next run (``bench_row_checks_sv``). Then it
runs the checker's shares one after the other from the watermark down, as the ingest
does, and measures each (wall time, and CPU time of this process), interleaved with a
baseline: a plain read of the same ids from the exchange (``read_between``), the least
any check must do. Reported: the median per share, the ratio against the baseline,
and what a pass over the window and the following ingest's duty cycle come to.

    .venv/bin/python bench/row_checks.py              # 60 shares of 2,000 ids
    .venv/bin/python bench/row_checks.py --shares 20

PostgreSQL from BENCH_PG_URL (default: the local server, user postgres).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.base.exchange import exchange_engine
from ingest import row_checks
from ingest.source import read_between

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = "2026-11-20T00:00:00+08:00"
TZ = ZoneInfo("Asia/Shanghai")
SUPERVISION = "bench_row_checks_sv"
FOLLOWING_EVERY = 5.0  # seconds between shares while following (the ingest's chores)


def _url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _bench_ingest():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def supervision_database(exchange_url: str, events: int) -> str:
    """The corpus taken in, kept; taken in again when it holds another number of rows."""
    db_url = _url(SUPERVISION)
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SUPERVISION,)).fetchone()
        if exists:
            with psycopg.connect(_libpq(db_url)) as conn:
                try:
                    taken = conn.execute("SELECT count(*) FROM events").fetchone()[0]
                    taken += conn.execute(
                        "SELECT count(DISTINCT event_id) FROM quality_log WHERE source = 'case_events'"
                    ).fetchone()[0]
                except psycopg.errors.UndefinedTable:
                    taken = -1
            if taken > events * 0.9:
                print(f"supervision: reusing {SUPERVISION}")
                return db_url
            admin.execute(f'DROP DATABASE "{SUPERVISION}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{SUPERVISION}"')
    print(f"supervision: taking in {events:,} rows with supervise ingest --once …", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    with tempfile.TemporaryDirectory() as var:
        env |= {"SUPERVISE_EXCHANGE_URL": exchange_url, "SUPERVISE_DB_URL": db_url, "SUPERVISE_VAR_DIR": var}
        subprocess.run(
            [sys.executable, "-m", "app.cli", "ingest", "--once", "--now", NOW],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return db_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shares", type=int, default=60, help="shares measured")
    args = parser.parse_args()

    exchange_url, events = _bench_ingest().exchange_database(0.1, 30, NOW)
    db_url = supervision_database(exchange_url, events)
    exchange, db = exchange_engine(exchange_url), create_engine(db_url)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM exchange_row_checks"))  # a pass from the watermark
        known = set(conn.execute(text("SELECT DISTINCT item_code FROM cases")).scalars())
    from datetime import datetime

    now = datetime.fromisoformat(NOW)
    walls, cpus, plains, rows = [], [], [], 0
    for _ in range(args.shares):
        with db.connect() as conn:
            state = conn.execute(
                text("SELECT checked_down_to FROM exchange_row_checks WHERE source = 'case_events'")
            ).scalar()
        if state is not None:  # the baseline: the same ids, read and nothing else
            started = time.perf_counter()
            plain = read_between(exchange, "case_events", max(state - row_checks.SHARE_IDS, 0), state)
            plains.append(time.perf_counter() - started)
            rows += len(plain)
        started, cpu = time.perf_counter(), time.process_time()
        found, ended = row_checks._share(exchange, db, "case_events", now, TZ, known)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        if found:
            print(f"note: {found} changes logged (the corpus changed upstream since it was taken in?)")
        if ended:
            break
    wall, cpu, plain = statistics.median(walls[1:]), statistics.median(cpus[1:]), statistics.median(plains)
    per_window = row_checks.WINDOW_IDS / row_checks.SHARE_IDS
    print(
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {len(walls)} shares of "
        f"{row_checks.SHARE_IDS:,} ids ({rows / max(len(plains), 1):,.0f} rows each), medians"
    )
    print(
        f"share: {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms CPU in the ingest; baseline (read the same ids) "
        f"{plain * 1e3:.1f} ms; ratio {wall / plain:.2f}"
    )
    print(
        f"a pass over the window ({row_checks.WINDOW_IDS:,} ids, {per_window:.0f} shares): {per_window * wall:.0f} s "
        f"of work; following, one share every {FOLLOWING_EVERY:.0f} s: a pass every "
        f"{per_window * FOLLOWING_EVERY / 60:.0f} min, the ingest busy {wall / FOLLOWING_EVERY:.1%} of the time; "
        f"ingest --once: {row_checks.ONCE_SHARES} shares, {row_checks.ONCE_SHARES * wall:.1f} s"
    )


if __name__ == "__main__":
    main()
