"""Judging many due cases on every core.

Judging is pure CPU (``rules``) between a read and a write, so a large backlog
of due cases — a backfill, or midnight, when every clock of the day falls due
at once — is split in chunks over worker processes. Each worker judges a chunk
in its own transaction, which stores the cases, their alarms, the audit
entries, the cases' next due instants and the cases set aside together; chunks never overlap (they
are disjoint sets of cases), so exactly-once holds per case, as it does for one
process. The parent publishes what each chunk changed as soon as it is stored,
and counts what each set aside (a worker's own metrics die with it).

Workers are forked from the ingest, so they share its item catalogue and
calendars as they were at the fork; a pool lives for one backlog only. Each
dies with its parent (``PR_SET_PDEATHSIG``): after a kill -9 no worker goes
on committing while a standby takes over.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed, wait
from datetime import datetime
from typing import TYPE_CHECKING

from app.base import outage
from ingest import store

if TYPE_CHECKING:
    from app.base.alarm_stream import AlarmChange
    from ingest.pipeline import Ingest

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_ingest: Ingest | None = None  # the forked copy, in a worker


def workers_for(ingest: Ingest) -> int:
    """How many processes may judge at once: every core, where the database takes concurrent writers."""
    if ingest.db.dialect.name != "postgresql":
        return 1  # SQLite: one writer at a time; a second would only wait for the lock
    return max(1, min(ingest.judge_workers, os.cpu_count() or 1))


class JudgePool:
    """Worker processes that judge disjoint shares of due cases, one transaction each.

    A worker that dies (killed, out of memory) breaks the pool: the share it held
    raises BrokenProcessPool in the parent instead of being waited for forever,
    and the ingest stops with it; nothing it did not commit is lost."""

    def __init__(self, ingest: Ingest, workers: int, *, warm: bool = False):
        """`warm`: each worker opens its connection now rather than at its first share."""
        global _ingest
        self.workers = workers
        self._ingest = ingest
        self.instant: datetime | None = None  # what a standby pool was forked for (Ingest._stand_by)
        context = multiprocessing.get_context("fork")
        self._executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(warm,))
        _ingest = ingest  # inherited by the fork; nothing is pickled
        try:
            # With fork, the first task forks every worker at once, here and now.
            wait([self._executor.submit(_started) for _ in range(workers)])
        finally:
            _ingest = None

    def judge(self, chunks: list[list[str]], now: datetime) -> Iterator[list[AlarmChange]]:
        """Judge each chunk in a worker; the alarm changes of each, as soon as it is stored."""
        shares = [self._executor.submit(_judge_share, (chunk, now)) for chunk in chunks if chunk]
        for share in as_completed(shares):
            changes, aside = share.result()
            self._ingest.count_set_aside(aside)
            yield changes

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *exc) -> None:
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)


def _started() -> None:
    """A task that only makes its worker start (and warm up, if asked)."""


def _start_worker(warm: bool) -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: a worker outlives a killed parent only until its share is done
        log.debug("no PR_SET_PDEATHSIG here")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    outage.quiet()  # an outage fails our share, and the parent, which waits it out, reports it
    # The parent's pooled connections belong to the parent: open our own.
    _ingest.db.dispose(close=False)
    _ingest.exchange.dispose(close=False)
    if warm:
        with _ingest.db.begin() as conn:
            store.warm(conn)


def _judge_share(task: tuple[list[str], datetime]) -> tuple[list[AlarmChange], dict[str, int]]:
    """The share's alarm changes, and what it set aside (by metrics label)."""
    case_nos, now = task
    before = Counter(_ingest.aside_counts)
    with _ingest.db.begin() as conn:
        changes = _ingest.judge(conn, case_nos, now)
    return changes, dict(_ingest.aside_counts - before)
