"""Backfill: write days of history into an exchange database as fast as it takes them.

One day is drawn while the one before is being loaded (a writer thread with a
queue of one day), so the database's work overlaps the drawing; memory holds
at most one finished day beside the rows still to come.
"""

from __future__ import annotations

import queue
import sys
import threading
from datetime import timedelta

from sqlalchemy import Engine
from tqdm import tqdm

from app.simulate.feed import Feed
from app.simulate.summary import Tally
from app.simulate.writer import open_writer


def backfill(engine: Engine, feed: Feed, end: int, *, quiet: bool = False) -> Tally:
    """Write every row that reaches the database before `end` (epoch seconds), one transaction per day."""
    last_day = feed.days.day_of(end - 1)
    total = (last_day - feed.next_day).days + 1
    loader = _Loader(engine)
    loader.start()
    try:
        with tqdm(total=total, unit="day", file=sys.stderr, disable=quiet, desc="simulate") as bar:
            while feed.next_day <= last_day:
                day = feed.next_day
                feed.generate_through(day)
                cut = min(feed.days.midnight(day + timedelta(days=1)), end)
                loader.put(feed.render(feed.take_until(cut)))
                bar.set_postfix_str(f"{day} rows={feed.tally.events + feed.tally.ratings:,} pending={feed.pending:,}")
                bar.update(1)
    finally:
        loader.finish()
    return feed.tally


class _Loader(threading.Thread):
    """Writes each day's rows in its own transaction, while the next day is drawn."""

    def __init__(self, engine: Engine):
        super().__init__(name="simulate.loader", daemon=True)
        self._engine = engine
        self._days: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None

    def run(self) -> None:
        writer = open_writer(self._engine)
        try:
            while (day := self._days.get()) is not None:
                if self._error is None:
                    writer.write(*day)
        except BaseException as exc:
            self._error = exc
            while self._days.get() is not None:  # drain, so the producer never blocks
                pass
        finally:
            writer.close()

    def put(self, rows: tuple[list, list]) -> None:
        if self._error is not None:
            raise RuntimeError("writing the exchange database failed") from self._error
        self._days.put(rows)

    def finish(self) -> None:
        self._days.put(None)
        self.join()
        if self._error is not None:
            raise RuntimeError("writing the exchange database failed") from self._error
