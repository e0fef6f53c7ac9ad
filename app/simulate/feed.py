"""The exchange database's rows in the order they reach it, generated one day at a time.

Every case's whole life is drawn on its day of receipt (from a generator seeded
by the seed and that day alone), and its rows wait in a queue ordered by when
they reach the database. Taking rows up to an instant empties the queue up to
it. Memory holds only the rows still to come of cases in progress, so it does
not grow with the number of days simulated.
"""

from __future__ import annotations

import gc
import heapq
import random
from contextlib import contextmanager
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from app.simulate.cases import CaseMaker, LocalDays
from app.simulate.faults import Pushed, Upstream, source_systems
from app.simulate.region import Region
from app.simulate.summary import Tally
from app.simulate.traffic import Calendar


class Feed:
    """Rows of the simulated region, in arrival order, from `first_day` on."""

    def __init__(
        self,
        region: Region,
        calendar: Calendar,
        zone: ZoneInfo,
        *,
        seed: int,
        first_day: date,
        scale: float = 1.0,
        garbage_text: bool = True,
        received_from: int | None = None,
    ):
        self.seed = seed
        self.received_from = received_from  # cases received earlier are drawn but never pushed
        self.days = LocalDays(zone)
        self.maker = CaseMaker(region, calendar, self.days, scale)
        self.upstream = Upstream(source_systems(region, seed), self.days, garbage_text)
        self.next_day = first_day
        self.tally = Tally()
        self._queue: list[Pushed] = []  # a heap
        self._seq = 0

    @property
    def pending(self) -> int:
        """Rows generated but not yet taken (the memory the feed holds)."""
        return len(self._queue)

    def generate_through(self, last_day: date) -> None:
        """Draw the cases of every day up to `last_day` not drawn yet."""
        while self.next_day <= last_day:
            self._generate(self.next_day)
            self.next_day += timedelta(days=1)

    def _generate(self, d: date) -> None:
        with _collector_paused():
            self._draw(d)

    def _draw(self, d: date) -> None:
        rng = random.Random(f"cases:{self.seed}:{d.isoformat()}")
        queue, push = self._queue, self.upstream.push
        for story in self.maker.day(d, rng):
            pushed_rows = push(story, rng)  # drawn even when dropped, so later cases stay the same
            if self.received_from is not None and story.events[0].at < self.received_from:
                continue
            for pushed in pushed_rows:
                self._seq += 1
                heapq.heappush(queue, pushed._replace(seq=self._seq))

    def take_until(self, before: int, arriving_from: int | None = None) -> list[Pushed]:
        """Rows that reach the database before `before` (epoch seconds), in arrival order; counted in `tally`.

        Rows due before `arriving_from` arrive at that instant instead, in one burst, as
        after an outage (live mode starting after a gap). The caller must have generated
        every day up to the one holding `before`.
        """
        if self.days.midnight(self.next_day) < before:
            raise ValueError("take_until past the last generated day")
        queue, out = self._queue, []
        while queue and queue[0].recorded < before:
            out.append(heapq.heappop(queue))
        if arriving_from is not None:
            out = [_caught_up(p, arriving_from) if p.recorded < arriving_from else p for p in out]
        for pushed in out:
            self.tally.add(pushed)
        return out

    def render(self, rows: list[Pushed]) -> tuple[list[tuple], list[tuple]]:
        """The rows as the contract's text: (case_events rows, onsite_ratings rows), instants as ISO 8601."""
        iso = self.days.iso
        events, ratings = [], []
        for pushed in rows:
            row = pushed.row
            if pushed.table == "case_events":
                occurred = row[2]
                events.append(
                    (row[0], row[1], iso(occurred) if type(occurred) is int else occurred, iso(row[3])) + row[4:]
                )
            else:
                ratings.append(row[:4] + (iso(row[4]),))
        return events, ratings


def _caught_up(pushed: Pushed, arrival: int) -> Pushed:
    if pushed.table != "case_events":
        return pushed._replace(recorded=arrival)  # onsite_ratings has no recorded_at to change
    return pushed._replace(recorded=arrival, row=pushed.row[:3] + (arrival,) + pushed.row[4:], late="caught_up")


@contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector: a day's rows hold no cycles, and scanning them as
    they pile up costs a fifth of the drawing time. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
