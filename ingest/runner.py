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
from datetime import UTC, datetime, timedelta

import click
from tqdm import tqdm

from app.base import outage
from app.base.calendars import CalendarBook
from app.base.database import Limits, open_database
from app.base.exchange import open_exchange
from app.base.messaging import connect
from app.base.settings import ConfigurationError, Settings
from ingest import metrics
from ingest.leader import Leadership
from ingest.pipeline import Ingest, Totals

log = logging.getLogger("ingest")

OUTAGE_RESET_SECONDS = 60  # failures further apart than this are separate outages: back-off starts short again


def build(settings: Settings, batch_size: int = 5000) -> Ingest:
    """An `Ingest` wired to the configured databases, calendars and Redis.

    Every contract table of the exchange database is checked first, so a missing
    one stops the ingest before it has committed anything."""
    exchange = open_exchange(settings)
    try:
        calendars = CalendarBook.from_dir(settings.calendar_dir)
    except ValueError as exc:
        raise ConfigurationError(f"SUPERVISE_CALENDAR_DIR: {exc}") from None
    return Ingest(
        exchange,
        open_database(settings),
        calendars,
        settings.zone,
        connect(settings),
        batch_size,
        escalate_after=timedelta(minutes=settings.escalate_minutes),
        not_supervised_days=settings.not_supervised_days,
        unattended={
            "hours": settings.office,
            "limits": (
                timedelta(minutes=settings.unattended_minutes),
                timedelta(minutes=settings.unattended_long_minutes),
            ),
        },
    )


def wall_clock(start_at: datetime | None):
    """The wall clock, or one that starts at `start_at` and runs at the same pace."""
    if start_at is None:
        return lambda: datetime.now(UTC)
    origin = time.monotonic()
    return lambda: start_at + timedelta(seconds=time.monotonic() - origin)


def run_ingest(
    settings: Settings,
    *,
    once: bool,
    now: datetime | None,
    batch_size: int,
    metrics_port: int | None,
    wait_for_lock: float,
) -> None:
    ingest = build(settings, batch_size)
    if metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server

        from app.base import metrics as shared_metrics

        served = CollectorRegistry()  # the ingest's own, and the ground floor's (Redis link, alarm outbox)
        served.register(metrics.registry)
        served.register(shared_metrics.registry)
        start_http_server(metrics_port, addr="127.0.0.1", registry=served)
    leadership = Leadership(ingest.db)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    limits = Limits.of(settings)
    try:
        if once:
            _run_once(ingest, leadership, now or datetime.now(UTC), wait_for_lock, limits)
        else:
            _follow(ingest, leadership, wall_clock(now), stop, limits)
    finally:
        try:
            leadership.release()
        except Exception as error:
            log.debug("could not release the ingest lock: %s", error)


def _run_once(ingest: Ingest, leadership: Leadership, now: datetime, wait_for_lock: float, limits: Limits) -> None:
    """Take in and judge as of `now`, then return. An outage on the way is waited out for
    up to SUPERVISE_DB_START_WAIT at a time (every run picks up where the cursor stands,
    so a run cut off by one is safe to run again); a longer one ends the run, exit 1."""

    def attempt() -> Totals:
        deadline = time.monotonic() + wait_for_lock
        while not leadership.try_acquire():
            if time.monotonic() > deadline:
                raise click.ClickException("another ingest holds the lock; try again when it stops")
            time.sleep(0.5)
        with _ProgressBars(enabled=sys.stderr.isatty()) as bars:
            ingest.on_progress = bars.show
            try:
                return ingest.run_once(now)
            except Exception:
                ingest.forget_work_in_flight()
                raise

    try:
        totals = outage.retrying(
            attempt, [ingest.db, ingest.exchange], threading.Event(), limits.retry_cap, patience=limits.start_wait
        )
    except Exception as error:
        if not outage.transient(error):
            raise
        raise click.ClickException(
            f"a database stayed unavailable for {limits.start_wait:.0f} s "
            f"({outage.describe(error)}); what was taken in is kept: run again"
        ) from None
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
            self.bars[phase] = tqdm(
                total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, ncols=width, nrows=height
            )
        bar = self.bars[phase]
        bar.total = max(total, done)
        bar.update(done - bar.n)

    def __enter__(self) -> _ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        for bar in self.bars.values():
            bar.close()


def _follow(ingest: Ingest, leadership: Leadership, clock, stop: threading.Event, limits: Limits) -> None:
    """Follow until stopped: active while this process holds the lock, standing by otherwise.

    A database outage, in either role, is waited out (app.base.outage logs its start and
    its end): it never ends the process. What a failed cycle left in memory is
    dropped and the next cycle starts again from what is committed, so a cycle whose
    COMMIT went through unseen is not done twice."""
    standing_by = active = False
    waits, failed_at = outage.backoff(limits.retry_cap), 0.0
    engines = [ingest.db, ingest.exchange]
    while not stop.is_set():
        try:
            active = active and leadership.held()  # after a failed cycle, still active if the lock is ours
            if not active and not leadership.try_acquire():
                if not standing_by:
                    log.warning("another ingest is active; standing by to take over")
                    standing_by = True
                metrics.is_leader.set(0)
                stop.wait(1.0)
                continue
            if not active:
                log.warning("this ingest is now the active one")
            standing_by, active = False, True
            metrics.is_leader.set(1)
            ingest.follow(clock, stop, still_leader=leadership.held)
            active = False  # stopped, or the lock was lost
            metrics.is_leader.set(0)
        except Exception as error:
            if not outage.transient(error):
                raise
            ingest.forget_work_in_flight()
            if not any(outage.of(engine).down for engine in engines):
                log.warning("a database call failed and is tried again: %s", outage.describe(error))
            if time.monotonic() - failed_at > OUTAGE_RESET_SECONDS:
                waits.reset()  # the last failure is long past: start again from short waits
            failed_at = time.monotonic()
            if outage.wait_out(engines, stop, limits.retry_cap):
                stop.wait(waits.next_delay())  # a fault a probe cannot see (a full disk) is not retried at once
