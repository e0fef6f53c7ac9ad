"""Live mode: rows written as a (fake, accelerated) clock passes, and on PostgreSQL from several
writers whose commits interleave, so that event_id order differs from commit order."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from app.base import exchange
from app.simulate.feed import Feed
from app.simulate.live import accelerated, run_live
from app.simulate.region import build_region
from app.simulate.writer import write_reference
from rules.calendar import WorkCalendar

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 3, 9, 0, tzinfo=ZONE)  # a Tuesday morning


def _fake_clock(start: datetime):
    """A clock that starts at `start` and runs at real speed: live mode at any instant."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def _live(url: str, *, rows: int, speed: float, writers: int, observe=None):
    engine = exchange.exchange_engine(url)
    exchange.create_exchange_schema(engine)
    region = build_region(1, "rtsp://u:p@127.0.0.1:8554/cam{n}")
    write_reference(engine, region)
    feed = Feed(
        region,
        WorkCalendar(),
        ZONE,
        seed=1,
        first_day=START.date(),
        scale=0.3,
        garbage_text=engine.dialect.name == "sqlite",
        received_from=int(START.timestamp()),
    )
    stop = threading.Event()

    def stop_after_enough_rows() -> None:
        # By what was written, not by wall time: a loaded machine writes fewer rows a second.
        deadline = time.monotonic() + 120
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                if conn.execute(text("SELECT count(*) FROM case_events")).scalar_one() >= rows:
                    break
                conn.commit()
                time.sleep(0.1)
        stop.set()

    threading.Thread(target=stop_after_enough_rows, daemon=True).start()
    watcher = threading.Thread(target=observe, args=(engine, stop)) if observe else None
    if watcher:
        watcher.start()
    clock = accelerated(_fake_clock(START), speed)
    tally = run_live(engine, feed, clock, stop, writers=writers, tick=0.1)
    if watcher:
        watcher.join()
    return engine, tally, datetime.fromtimestamp(clock(), ZONE)


def test_live_on_sqlite_writes_what_the_clock_has_passed(sqlite_url):
    engine, tally, ended = _live(sqlite_url, rows=150, speed=1800, writers=4)
    with engine.connect() as conn:
        rows = conn.execute(select(exchange.case_events.c.recorded_at, exchange.case_events.c.case_no)).all()
    assert len(rows) == tally.events > 100
    # Nothing from the clock's future: every row was recorded by the instant the writers stopped at
    # (read off the same clock, so a loaded machine that stops late does not fail it).
    assert all(START <= r.recorded_at <= ended for r in rows)
    # every case started after the start instant: no orphans made by starting mid-day
    assert all(no.split("-")[1] == "20261103" for _, no in rows if no)


@pytest.mark.slow
def test_several_writers_commit_out_of_id_order_on_postgresql(pg_url):
    holes = []

    def observe(engine, stop):
        # A snapshot where fewer rows are visible than the largest visible id means a smaller id was
        # still uncommitted while a larger one was committed (sequences do not skip without rollbacks).
        with engine.connect() as conn:
            while not stop.is_set():
                count, top = conn.execute(text("SELECT count(*), coalesce(max(event_id), 0) FROM case_events")).one()
                if count < top:
                    holes.append((count, top))
                conn.commit()
                time.sleep(0.02)

    engine, tally, _ = _live(pg_url, rows=300, speed=900, writers=4, observe=observe)
    with engine.connect() as conn:
        count, top = conn.execute(text("SELECT count(*), max(event_id) FROM case_events")).one()
    assert count == top == tally.events > 100  # every hole filled in the end: nothing lost
    assert holes, "no snapshot ever saw a later id committed before an earlier one"
