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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed, wait
from datetime import datetime

from sqlalchemy import Engine

from app.base import outage
from app.base.alarm_stream import AlarmChange

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1

# Judges one share of cases in one transaction: its alarm changes, and what it set aside (by metrics label).
Share = Callable[[list[str], datetime], tuple[list[AlarmChange], dict[str, int]]]


class _Forked:
    """What a worker inherits from the fork (nothing is pickled)."""

    share: Share | None = None
    engines: Sequence[Engine] = ()
    warm: Callable[[], None] | None = None


def workers_for(db: Engine, wanted: int) -> int:
    """How many processes may judge at once: every core, where the database takes concurrent writers."""
    if db.dialect.name != "postgresql":
        return 1  # SQLite: one writer at a time; a second would only wait for the lock
    return max(1, min(wanted, os.cpu_count() or 1))


class JudgePool:
    """Worker processes that judge disjoint shares of due cases, one transaction each.

    A worker that dies (killed, out of memory) breaks the pool: the share it held
    raises BrokenProcessPool in the parent instead of being waited for forever,
    and the ingest stops with it; nothing it did not commit is lost."""

    def __init__(
        self,
        share: Share,
        workers: int,
        *,
        engines: Sequence[Engine] = (),
        warm: Callable[[], None] | None = None,
        on_set_aside: Callable[[Mapping[str, int]], None] = lambda counts: None,
    ):
        """`share` judges one share in a worker; `engines` are the parent's, whose pooled connections a
        worker must not use; `warm`, if given, readies each worker now rather than at its first share;
        `on_set_aside` counts, in the parent, what each share set aside (a worker's own metrics die with it)."""
        self.workers = workers
        self._on_set_aside = on_set_aside
        self.instant: datetime | None = None  # what a standby pool was forked for (Ingest._stand_by)
        context = multiprocessing.get_context("fork")
        self._executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)
        _Forked.share, _Forked.engines, _Forked.warm = share, engines, warm  # inherited by the fork
        try:
            # With fork, the first task forks every worker at once, here and now.
            wait([self._executor.submit(_started) for _ in range(workers)])
        finally:
            _Forked.share, _Forked.engines, _Forked.warm = None, (), None

    def judge(self, chunks: list[list[str]], now: datetime) -> Iterator[list[AlarmChange]]:
        """Judge each chunk in a worker; the alarm changes of each, as soon as it is stored."""
        shares = [self._executor.submit(_judge_share, (chunk, now)) for chunk in chunks if chunk]
        for share in as_completed(shares):
            changes, aside = share.result()
            self._on_set_aside(aside)
            yield changes

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *exc) -> None:
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)


def _started() -> None:
    """A task that only makes its worker start (and warm up, if asked)."""


def _start_worker() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: a worker outlives a killed parent only until its share is done
        log.debug("no PR_SET_PDEATHSIG here")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    outage.quiet()  # an outage fails our share, and the parent, which waits it out, reports it
    # The parent's pooled connections belong to the parent: open our own.
    for engine in _Forked.engines:
        engine.dispose(close=False)
    if _Forked.warm is not None:
        _Forked.warm()


def _judge_share(task: tuple[list[str], datetime]) -> tuple[list[AlarmChange], dict[str, int]]:
    case_nos, now = task
    return _Forked.share(case_nos, now)
