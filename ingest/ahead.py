"""Judging ahead of a clock instant.

Clocks run out at local midnights, so the due index (``cases.next_change``)
often holds thousands of cases due at one instant. Judging them takes longer
than storing and publishing what was judged, so while following, the ingest
judges the cases due at the next instant in the seconds before it, as of that
instant (judging is a pure function of the events and the instant), and at the
instant only stores the results and publishes them.

A prepared judgement is used only if the case has not changed since: its row
still shows the same ``judged_at`` and the prepared instant as its next change
(a new event sets next_change to "now", a new judgement sets judged_at). The
check is made with the case rows locked, in the transaction that stores the
results; a case that fails it is judged afresh. Alarm changes are reconciled
at the instant against the alarms as stored then, so an officer's action in
the meantime is respected. The database stays the truth: a prepared
judgement lives in memory only and is simply lost with the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select

from app.base.tables import cases
from ingest import bulk
from rules.alarms import AlarmFact

AHEAD_SECONDS = 15.0  # start judging this long before the instant
MOST_CASES = 50_000  # judged ahead at most (about 2 kB each)


@dataclass(frozen=True)
class Prepared:
    judged_at: datetime  # the row's judged_at when this was judged: changed since means stale
    row: dict  # the case row as of the instant
    facts: tuple[AlarmFact, ...] | None  # its alarm facts as of the instant (None: not received by then)


@dataclass
class Ahead:
    """The judgements prepared for the next instant at which many clocks run out."""

    instant: datetime | None = None
    cases: dict[str, Prepared] = field(default_factory=dict)
    _last: str = ""  # cases are prepared in case_no order: the last one prepared
    _complete: bool = False

    def pending_near(self, conn: Connection, now: datetime, next_due: datetime | None, chunk: int) -> dict:
        """The next `chunk` cases (case_no -> judged_at) still to judge ahead for `next_due`,
        if it is near; they are to be judged as of `self.instant`."""
        if next_due is None or next_due <= now or (next_due - now).total_seconds() > AHEAD_SECONDS:
            return {}
        if next_due != self.instant:
            self.instant, self.cases, self._last, self._complete = next_due, {}, "", False
        if self._complete or len(self.cases) >= MOST_CASES:
            return {}
        query = (
            select(cases.c.case_no, cases.c.judged_at)
            .where(cases.c.next_change == next_due, cases.c.case_no > self._last)
            .order_by(cases.c.case_no)
            .limit(chunk)
        )
        pending = dict(conn.execute(query).all())
        self._complete = len(pending) < chunk
        if pending:
            self._last = max(pending)
        return pending

    @property
    def complete(self) -> bool:
        """Every case due at `instant` is judged ahead (or as many as are kept)."""
        return self.instant is not None and (self._complete or len(self.cases) >= MOST_CASES)

    def keep(self, prepared: dict[str, Prepared]) -> None:
        self.cases.update(prepared)

    def holds(self, case_nos: list[str], now: datetime) -> bool:
        """Whether most of `case_nos` were judged ahead for an instant that has come."""
        if self.instant is None or self.instant > now or not self.cases:
            return False
        return sum(1 for case_no in case_nos if case_no in self.cases) * 2 > len(case_nos)

    def take(self, conn: Connection, case_nos: set[str], now: datetime) -> dict[str, Prepared]:
        """The prepared judgements of `case_nos` that still hold, their case rows locked till commit."""
        if self.instant is None or self.instant > now:
            return {}
        wanted = case_nos & self.cases.keys()
        if not wanted:
            return {}
        query = (
            select(cases.c.case_no, cases.c.judged_at, cases.c.next_change)
            .where(bulk.where_one_of(conn, cases.c.case_no, wanted))
            .with_for_update()
        )
        valid = {}
        for case_no, judged_at, next_change in conn.execute(query):
            prepared = self.cases[case_no]
            if judged_at == prepared.judged_at and next_change == self.instant:
                valid[case_no] = prepared
        return valid

    def forget(self, case_nos) -> None:
        for case_no in case_nos:
            self.cases.pop(case_no, None)

    def passed(self, now: datetime) -> None:
        """Everything due by `now` has been judged: what was prepared for it is of no more use."""
        if self.instant is not None and self.instant <= now:
            self.instant, self.cases, self._last, self._complete = None, {}, "", False
