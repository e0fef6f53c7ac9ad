"""Benchmark: a month of region-scale backfill into a fresh PostgreSQL database.

Measures the simulator's throughput (rows written per second, generation and
COPY together) and its peak memory (RSS), beside a baseline measured in the
same run on the same machine: a plain COPY of as many pre-generated rows (one
working day's rows, rendered once and copied over and over). The ratio shows
what drawing the region costs on top of loading it.

    .venv/bin/python bench/simulate.py [--days 30] [--scale 1.0] [--until 2026-11-26]

PostgreSQL from BENCH_PG_URL (default: the local server, user postgres).
Each phase runs in its own process so that each peak RSS is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
import uuid
from datetime import date, datetime, timedelta

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ZONE_NAME = "Asia/Shanghai"
SEED = 1


def _database(name: str, create: bool) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_URL)
    with psycopg.connect(
        admin.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _setup(url: str, days: int, scale: float, until: date):
    from zoneinfo import ZoneInfo

    from app.base import exchange
    from app.base.database import Limits
    from app.simulate.feed import Feed
    from app.simulate.region import build_region
    from app.simulate.writer import write_reference
    from rules.calendar import WorkCalendar

    zone = ZoneInfo(ZONE_NAME)
    engine = exchange.exchange_engine(url, Limits(statement=Limits().long_statement))  # as the simulator writes
    exchange.create_exchange_schema(engine)
    region = build_region(SEED, "rtsp://user:pass@127.0.0.1:8554/cam{n}")
    write_reference(engine, region)
    feed = Feed(
        region,
        WorkCalendar(),
        zone,
        seed=SEED,
        first_day=until - timedelta(days=days - 1),
        scale=scale,
        garbage_text=False,
    )
    end = int(datetime.combine(until + timedelta(days=1), datetime.min.time(), zone).timestamp())
    return engine, feed, end


def simulate_phase(url: str, days: int, scale: float, until: date, out) -> None:
    """The simulator as `supervise simulate --backfill` runs it."""
    from app.simulate.backfill import backfill

    engine, feed, end = _setup(url, days, scale, until)
    started = time.perf_counter()
    tally = backfill(engine, feed, end, quiet=True)
    seconds = time.perf_counter() - started
    out.put(
        {
            "events": tally.events,
            "ratings": tally.ratings,
            "seconds": seconds,
            "rss_mb": _peak_rss_mb(),
            "pending": feed.pending,
            "cases": sum(tally.cases.values()),
        }
    )


def copy_phase(url: str, scale: float, until: date, events: int, ratings: int, out) -> None:
    """Baseline: COPY the same number of rows, pre-generated (one working day's, rendered once)."""
    from app.simulate.writer import open_writer
    from rules.calendar import WorkCalendar

    day = until
    while not WorkCalendar().is_working_day(day):
        day -= timedelta(days=1)
    engine, feed, _ = _setup(url, 1, scale, day)
    feed.generate_through(day)
    sample_events, sample_ratings = feed.render(feed.take_until(feed.days.midnight(day + timedelta(days=1))))
    writer = open_writer(engine)
    started = time.perf_counter()
    left_events, left_ratings = events, ratings
    while left_events > 0 or left_ratings > 0:
        chunk_e, chunk_r = sample_events[: max(0, left_events)], sample_ratings[: max(0, left_ratings)]
        writer.write(chunk_e, chunk_r)
        left_events -= len(chunk_e)
        left_ratings -= len(chunk_r)
    seconds = time.perf_counter() - started
    writer.close()
    out.put(
        {
            "events": events,
            "ratings": ratings,
            "seconds": seconds,
            "rss_mb": _peak_rss_mb(),
            "sample": len(sample_events) + len(sample_ratings),
        }
    )


def _run(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=target, args=(*args, out))
    process.start()
    result = out.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--until", type=date.fromisoformat, default=date(2026, 11, 26))
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    sim_db, copy_db = f"bench_simulate_{tag}", f"bench_copy_{tag}"
    try:
        load = os.getloadavg()
        sim = _run(simulate_phase, _database(sim_db, True), args.days, args.scale, args.until)
        base = _run(copy_phase, _database(copy_db, True), args.scale, args.until, sim["events"], sim["ratings"])
    finally:
        _database(sim_db, False)
        _database(copy_db, False)

    rows = sim["events"] + sim["ratings"]
    sim_rate, base_rate = rows / sim["seconds"], rows / base["seconds"]
    print(f"simulate backfill: {args.days} days to {args.until}, scale {args.scale}, seed {SEED}, PostgreSQL COPY")
    print(
        f"  written: {sim['cases']:,} cases, {sim['events']:,} case events + {sim['ratings']:,} ratings "
        f"= {rows:,} rows ({sim['pending']:,} rows of cases in progress left unwritten at the end)"
    )
    print(f"  {'':<34}{'seconds':>9}{'rows/s':>11}{'peak RSS':>11}")
    print(f"  {'simulator (draw + render + COPY)':<34}{sim['seconds']:>9.1f}{sim_rate:>11,.0f}{sim['rss_mb']:>8.0f} MB")
    print(f"  {'baseline (COPY of ready rows)':<34}{base['seconds']:>9.1f}{base_rate:>11,.0f}{base['rss_mb']:>8.0f} MB")
    print(
        f"  ratio simulator/baseline throughput: {sim_rate / base_rate:.2f} "
        f"(the simulator is {base_rate / sim_rate:.1f}x slower than loading ready rows)"
    )
    print(f"  machine: {os.cpu_count()} CPUs, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
