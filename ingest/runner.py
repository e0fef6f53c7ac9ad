"""The ingest process: settings in, one active `Ingest` loop out.

Builds the pipeline from configuration, holds the leader lock, serves
metrics, and stops cleanly on SIGINT/SIGTERM. `now` is the only clock: a
fixed instant for --once, or the wall clock (offset to start at --now) when
following.
"""
from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import click
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError
from tqdm import tqdm

from app.database import open_database
from app.messaging import connect
from app.settings import Settings
from ingest import metrics
from ingest.calendars import CalendarBook
from ingest.exchange import exchange_engine
from ingest.leader import Leadership
from ingest.pipeline import Ingest

log = logging.getLogger("ingest")


def build(settings: Settings, batch_size: int = 5000) -> Ingest:
    """An `Ingest` wired to the configured databases, calendars and Redis."""
    exchange = exchange_engine(settings.exchange_url_resolved)
    try:
        tables = set(inspect(exchange).get_table_names())
    except OperationalError as exc:
        raise click.ClickException(f"cannot open the exchange database: {exc.orig}") from exc
    if "case_events" not in tables:
        raise click.ClickException(
            "the exchange database has no case_events table "
            "(SUPERVISE_EXCHANGE_URL; try 'supervise simulate --backfill 7' for a demo one)"
        )
    try:
        calendars = CalendarBook.from_dir(settings.calendar_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    return Ingest(exchange, open_database(settings), calendars, settings.zone, connect(settings), batch_size,
                  escalate_after=timedelta(minutes=settings.escalate_minutes))


def wall_clock(start_at: datetime | None):
    """The wall clock, or one that starts at `start_at` and runs at the same pace."""
    if start_at is None:
        return lambda: datetime.now(timezone.utc)
    origin = time.monotonic()
    return lambda: start_at + timedelta(seconds=time.monotonic() - origin)


def run_ingest(settings: Settings, *, once: bool, now: datetime | None, batch_size: int,
               metrics_port: int | None, wait_for_lock: float) -> None:  # fmt: skip
    ingest = build(settings, batch_size)
    if metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

        from app import metrics as shared_metrics  # noqa: PLC0415

        served = CollectorRegistry()  # the ingest's own, and the ground floor's (Redis link, alarm outbox)
        served.register(metrics.registry)
        served.register(shared_metrics.registry)
        start_http_server(metrics_port, addr="127.0.0.1", registry=served)
    leadership = Leadership(ingest.db)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if once:
            _run_once(ingest, leadership, now or datetime.now(timezone.utc), wait_for_lock)
        else:
            _follow(ingest, leadership, wall_clock(now), stop)
    finally:
        leadership.release()


def _run_once(ingest: Ingest, leadership: Leadership, now: datetime, wait_for_lock: float) -> None:
    deadline = time.monotonic() + wait_for_lock
    while not leadership.try_acquire():
        if time.monotonic() > deadline:
            raise click.ClickException("another ingest holds the lock; try again when it stops")
        time.sleep(0.5)
    with _ProgressBars(enabled=sys.stderr.isatty()) as bars:
        ingest.on_progress = bars.show
        totals = ingest.run_once(now)
    print(
        f"ingest: {totals.rows} rows read, {totals.events} events taken in, {totals.rejected} set aside, "
        f"{totals.duplicates} repeats ignored, {totals.orphans} orphans expired, {totals.set_aside} cases set aside, "
        f"{totals.changed_upstream} rows changed upstream, "
        f"{totals.changes} alarm changes (now = {now.isoformat()}); "
        f"took in for {totals.taking_in_seconds:.1f} s, judged {totals.judged} cases for {totals.judging_seconds:.1f} s",
        file=sys.stderr,
    )


class _ProgressBars:
    """tqdm bars on a terminal for a long --once run: exchange ids taken in, then cases judged."""

    LABELS = {"take-in": ("take in", "id"), "judge": ("judge", "case")}

    def __init__(self, enabled: bool):
        self.enabled, self.bars = enabled, {}

    def show(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase not in self.bars:
            desc, unit = self.LABELS[phase]
            # A terminal that reports no size (0 x 0) would hide every bar: assume 100 x 20 there.
            width, height = shutil.get_terminal_size((100, 20))
            self.bars[phase] = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
                                    ncols=width, nrows=height)  # fmt: skip
        bar = self.bars[phase]
        bar.total = max(total, done)
        bar.update(done - bar.n)

    def __enter__(self) -> "_ProgressBars":
        return self

    def __exit__(self, *exc) -> None:
        for bar in self.bars.values():
            bar.close()


def _follow(ingest: Ingest, leadership: Leadership, clock, stop: threading.Event) -> None:
    standing_by = False
    while not stop.is_set():
        if not leadership.try_acquire():
            if not standing_by:
                log.warning("another ingest is active; standing by to take over")
                standing_by = True
            metrics.is_leader.set(0)
            stop.wait(1.0)
            continue
        log.warning("this ingest is now the active one")
        standing_by = False
        metrics.is_leader.set(1)
        ingest.follow(clock, stop, still_leader=leadership.held)
        metrics.is_leader.set(0)
