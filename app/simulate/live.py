"""Live mode: keep writing the region's rows as (simulated) time passes, until stopped.

Rows are written when the simulated clock passes their arrival instant. On
PostgreSQL several writer threads, one connection each, share the upstream
systems between them (a system always goes to the same writer) and hold each
transaction open a little before committing, as upstream systems do. So a
transaction that took smaller event_ids can commit after one that took larger
ones: id order differs from commit order, which the ingest must survive.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import zlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from app.simulate.faults import Pushed
from app.simulate.feed import Feed
from app.simulate.summary import Tally
from app.simulate.writer import open_writer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def accelerated(clock: Clock, speed: float) -> Callable[[], float]:
    """Simulated epoch seconds: `speed` times as fast as `clock`, starting at its present instant."""
    origin = clock().timestamp()
    return lambda: origin + (clock().timestamp() - origin) * speed


class _Writer(threading.Thread):
    """One upstream connection: takes batches from its queue, writes each in a transaction held open a while."""

    def __init__(self, engine: Engine, number: int, hold: tuple[float, float], errors: list[BaseException]):
        super().__init__(name=f"simulate.writer:{number}", daemon=True)
        self.engine, self.hold, self.errors = engine, hold, errors
        self.inbox: queue.Queue[tuple[list, list] | None] = queue.Queue()
        self._rng = random.Random(number)

    def run(self) -> None:
        writer = open_writer(self.engine)
        try:
            while (batch := self.inbox.get()) is not None:
                writer.write(*batch, before_commit=self._linger)
        except BaseException as exc:  # reported by run_live, which stops
            self.errors.append(exc)
            log.exception("%s failed", self.name)
        finally:
            writer.close()

    def _linger(self) -> None:
        time.sleep(self._rng.uniform(*self.hold))


def run_live(
    engine: Engine,
    feed: Feed,
    now: Callable[[], float],
    stop: threading.Event,
    *,
    writers: int = 4,
    tick: float = 0.5,
    hold: tuple[float, float] = (0.02, 0.4),
    on_tick: Callable[[Tally], None] | None = None,
) -> Tally:
    """Write rows as `now()` (simulated epoch seconds) passes their arrival, until `stop` is set."""
    if engine.dialect.name != "postgresql":
        writers = 1  # SQLite has one writer at a time anyway
    errors: list[BaseException] = []
    pool = [_Writer(engine, n, hold if writers > 1 else (0.0, 0.0), errors) for n in range(1, writers + 1)]
    for w in pool:
        w.start()
    started = int(now())
    try:
        while not stop.wait(tick):
            if errors:
                raise RuntimeError("a writer failed; see the log") from errors[0]
            instant = now()
            feed.generate_through(feed.days.day_of(int(instant)))
            _dispatch(feed, feed.take_until(int(instant), arriving_from=started), pool)
            if on_tick:
                on_tick(feed.tally)
    finally:
        for w in pool:
            w.inbox.put(None)
        for w in pool:
            w.join()
    if errors:
        raise RuntimeError("a writer failed; see the log") from errors[0]
    return feed.tally


def _dispatch(feed: Feed, rows: list[Pushed], pool: list[_Writer]) -> None:
    """Give each writer the rows of the systems it serves (a system's rows stay in order on one connection)."""
    shares: list[list[Pushed]] = [[] for _ in pool]
    for pushed in rows:
        key = pushed.row[4] if pushed.table == "case_events" else pushed.row[1]  # source system / window
        shares[zlib.crc32((key or "").encode()) % len(pool)].append(pushed)
    for writer, share in zip(pool, shares):
        if share:
            writer.inbox.put(feed.render(share))
