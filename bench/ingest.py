"""Benchmark: backfill a simulated month of region traffic from PostgreSQL through the ingest.

Reports the ingest's events/s beside the physical limit measured in the same
run on the same machine: a plain ``COPY (SELECT <the columns the ingest
reads> …) TO STDOUT`` of the same rows, counted as bytes and not parsed. The
ratio is what the ingest achieves of that limit; the machine is shared and
noisy, so the limit is measured before and after the ingest and averaged.
Also reported: the peak memory (RSS) of the ingest's processes, and how it
moved over the run (it must not grow with history), and the time a year of
region traffic (≈ 40 M events) would take at the measured rate.

    .venv/bin/python bench/ingest.py                  # a month at region scale (≈ 2.6 M events)
    .venv/bin/python bench/ingest.py --scale 0.1      # a quicker run

The exchange database is written once by ``supervise simulate`` and kept
(``bench_ingest_x_<scale>_<days>``); a later run reuses it when its row count
matches the one recorded after it was written. Each run ingests into a fresh
supervision database, dropped afterwards unless --keep.
PostgreSQL from BENCH_PG_URL (default: the local server, user postgres).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # this file is called ingest.py: `import ingest` must find the package

from tests.redis_claim import claimed_database

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
YEAR_EVENTS = 40_000_000  # a year of region traffic
YEAR_BUDGET_SECONDS = 600


def _url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(sql)


def _exists(database: str) -> bool:
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


# --- the exchange database -------------------------------------------------
def exchange_database(scale: float, days: int, now: str) -> tuple[str, int]:
    """The simulated exchange database for these arguments, written unless a matching one exists."""
    name = f"bench_ingest_x_{str(scale).replace('.', '_')}_{days}"
    url = _url(name)
    if _exists(name):
        with psycopg.connect(_libpq(url)) as conn:
            try:
                meta = conn.execute("SELECT scale, days, now, events FROM bench_meta").fetchone()
                count = conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
            except psycopg.errors.UndefinedTable:
                meta, count = None, -1
        if meta is not None and tuple(meta) == (scale, days, now, count):
            print(f"exchange: reusing {name} ({count:,} events)")
            return url, count
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    print(f"exchange: writing {name} with supervise simulate (scale {scale}, {days} days)…", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "simulate",
            "--exchange-url",
            url,
            "--backfill",
            str(days),
            "--now",
            now,
            "--scale",
            str(scale),
            "--quiet",
        ],
        cwd=ROOT,
        env=_env({}),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM case_events").fetchone()[0]
        conn.execute("CREATE TABLE bench_meta (scale float8, days int, now text, events bigint)")
        conn.execute("INSERT INTO bench_meta VALUES (%s, %s, %s, %s)", (scale, days, now, count))
        conn.execute("VACUUM ANALYZE case_events")
    print(f"exchange: {count:,} events written in {time.perf_counter() - started:.0f} s")
    return url, count


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    return env | {"PYTHONPATH": str(ROOT)} | extra


@contextmanager
def claimed_redis():
    """A Redis database number held alone (the tests' lock keys in database 0), flushed after:
    alarm changes are published to a real server, as in production."""
    with claimed_database(REDIS_URL, hold_seconds=3600, order=range(15, 0, -1)) as url:
        if url is None:
            raise SystemExit("no free Redis database number (1-15)")
        yield url


# --- the physical limit ----------------------------------------------------
def copy_limit(url: str) -> tuple[float, int]:
    """Rows/s of a plain COPY of the rows and columns the ingest reads, counted as bytes."""
    from ingest.source import _pg_select

    query = f"SELECT {_pg_select('case_events')} FROM case_events ORDER BY event_id"
    rows = size = 0
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        started = time.perf_counter()
        with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            for chunk in copy:
                size += len(chunk)
                rows += bytes(chunk).count(b"\n")
        seconds = time.perf_counter() - started
    return rows / seconds, size


# --- the ingest ------------------------------------------------------------
class TreeMemory(threading.Thread):
    """Samples the total RSS of a process and its children until told to stop."""

    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(name="bench.rss", daemon=True)
        self.process, self.every = psutil.Process(pid), every
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self.stop.wait(self.every):
            try:
                processes = [self.process, *self.process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in processes)
            except psutil.Error:
                continue
            self.samples.append((time.perf_counter() - started, rss / 2**20))

    @property
    def peak(self) -> float:
        return max((mib for _, mib in self.samples), default=0.0)

    def by_quarter(self) -> list[float]:
        if not self.samples:
            return []
        end = self.samples[-1][0]
        return [
            max((m for t, m in self.samples if q * end / 4 <= t <= (q + 1) * end / 4), default=0.0) for q in range(4)
        ]


def run_ingest(exchange_url: str, redis_url: str, now: str, batch_size: int | None, keep: bool) -> dict:
    name = f"bench_ingest_sv_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    db_url = _url(name)
    with tempfile.TemporaryDirectory() as var:
        env = _env(
            {
                "SUPERVISE_EXCHANGE_URL": exchange_url,
                "SUPERVISE_DB_URL": db_url,
                "SUPERVISE_VAR_DIR": var,
                "SUPERVISE_REDIS_URL": redis_url,
            }
        )
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        command = [sys.executable, "-m", "app.cli", "ingest", "--once", "--now", now]
        if batch_size:
            command += ["--batch-size", str(batch_size)]
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        memory = TreeMemory(proc.pid)
        memory.start()
        out, err = proc.communicate()
        seconds = time.perf_counter() - started
        memory.stop.set()
        memory.join()
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}):\n{err[-3000:]}")
    summary = next((line for line in err.splitlines() if line.startswith("ingest:")), err.strip()[-300:])
    with psycopg.connect(_libpq(db_url)) as conn:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("events", "cases", "alarms", "alarm_actions", "quality_log")
        }
    if not keep:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {
        "seconds": seconds,
        "summary": summary,
        "counts": counts,
        "peak_mib": memory.peak,
        "quarters": memory.by_quarter(),
        "database": name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="share of region traffic (1.0 = the region)")
    parser.add_argument("--days", type=int, default=30, help="days of simulated history")
    parser.add_argument("--now", default="2026-11-20T00:00:00+08:00", help="end of the history and the ingest's now")
    parser.add_argument("--batch-size", type=int, help="pass --batch-size to the ingest")
    parser.add_argument("--keep", action="store_true", help="keep the supervision database")
    args = parser.parse_args()

    exchange_url, events = exchange_database(args.scale, args.days, args.now)
    before, size = copy_limit(exchange_url)
    print(f"limit (before): COPY of the same {events:,} rows ({size / 2**20:.0f} MiB) at {before:,.0f} rows/s")
    with claimed_redis() as redis_url:
        result = run_ingest(exchange_url, redis_url, args.now, args.batch_size, args.keep)
    after, _ = copy_limit(exchange_url)
    print(f"limit (after):  {after:,.0f} rows/s")
    limit = (before + after) / 2
    rate = events / result["seconds"]
    year = YEAR_EVENTS / rate
    print(result["summary"])
    print(
        "stored: "
        + ", ".join(f"{t} {n:,}" for t, n in result["counts"].items())
        + (f" (kept in {result['database']})" if args.keep else "")
    )
    print(f"ingest: {events:,} rows in {result['seconds']:.1f} s = {rate:,.0f} events/s")
    print(f"ratio:  {rate / limit:.3f} of the COPY limit ({limit:,.0f} rows/s; goal >= 0.5)")
    print(
        f"memory: peak RSS {result['peak_mib']:.0f} MiB; peak per quarter of the run: "
        + ", ".join(f"{m:.0f}" for m in result["quarters"])
        + " MiB"
    )
    print(
        f"a year (~{YEAR_EVENTS / 1e6:.0f} M events) at this rate: {year / 60:.1f} min "
        f"(goal <= {YEAR_BUDGET_SECONDS // 60} min: {'met' if year <= YEAR_BUDGET_SECONDS else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
