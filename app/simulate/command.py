"""`supervise simulate`: fill an exchange database with a realistic simulated Guangxi."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from app.base import exchange
from app.base.database import Limits
from app.simulate.backfill import backfill
from app.simulate.feed import Feed
from app.simulate.live import accelerated, run_live
from app.simulate.region import build_region
from app.simulate.summary import Tally, database_report
from app.simulate.writer import write_reference

log = logging.getLogger(__name__)

DEFAULT_CAMERA_URL = "rtsp://user:pass@127.0.0.1:8554/cam{n}"
RESUME_LOOKBACK_DAYS = 60  # how far back live mode redraws cases to continue those in progress


def _template(ctx, param, value: str | None) -> str | None:
    if value is not None:
        try:
            value.format(n=1, window_id="GX-450000-W001")
        except (KeyError, IndexError, ValueError) as exc:
            raise click.BadParameter(f"only {{n}} and {{window_id}} may be used ({exc})") from None
    return value


def _instant(ctx, param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give the offset, e.g. 2026-03-02T09:00:00+08:00")
    return parsed


@click.command("simulate")
@click.option(
    "--exchange-url",
    metavar="URL",
    help="SQLAlchemy URL of the exchange database to write. [default: SUPERVISE_EXCHANGE_URL, "
    "else SQLite under SUPERVISE_VAR_DIR]",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Same seed, same region and same rows (byte for byte, apart from database-assigned ids).",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of the region's real traffic (1.0 ≈ 26,000 cases a working day, 6.6 million a year).",
)
@click.option(
    "--backfill",
    "backfill_days",
    type=click.IntRange(min=1),
    metavar="DAYS",
    help="Write DAYS of history ending now (or at --until) as fast as the database takes it.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="With --backfill: end the history at the end of this local date instead of now.",
)
@click.option(
    "--live", is_flag=True, help="Keep writing as time passes until SIGINT/SIGTERM (after the backfill, if any)."
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="With --live: simulated seconds per real second.",
)
@click.option(
    "--writers",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="With --live on PostgreSQL: concurrent writer connections (their commits interleave); SQLite has one.",
)
@click.option(
    "--camera-url",
    default=DEFAULT_CAMERA_URL,
    show_default=True,
    callback=_template,
    help="Template of camera stream URLs: {n} = 1..number of windows, {window_id}.",
)
@click.option(
    "--camera-substream-url",
    callback=_template,
    metavar="TEMPLATE",
    help="Template of the low-resolution substream URLs (same fields); none if not given.",
)
@click.option(
    "--now",
    "now_text",
    callback=_instant,
    metavar="ISO8601",
    help="Pretend the present is this instant (with offset): the backfill ends and live mode starts here.",
)
@click.option("--summary", is_flag=True, help="Print what the exchange database holds (after writing, if asked to).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or live status on stderr.")
def simulate_command(
    exchange_url,
    seed,
    scale,
    backfill_days,
    until,
    live,
    speed,
    writers,
    camera_url,
    camera_substream_url,
    now_text,
    summary,
    quiet,
) -> None:
    """Write a realistic simulated Guangxi into an exchange database (前置库).

    The region: 127 service centers (the region's, 14 cities', 112 counties'),
    their departments, about 6,000 windows each with a camera and staff, and
    a catalogue of over 250 items. Its cases arrive by office hours and the
    official working-day calendar, live through correction notices, approval
    steps, special procedures, extensions, completion and delivery, and are
    pushed by upstream systems in real time or in hourly and nightly batches,
    with a small share of every kind of bad row the contract lists.

    The schema and reference data are created when missing. With no
    --backfill or --live, only that is done. On a database that already holds
    rows, --live resumes after the last one: cases in progress go on (give the
    backfill's --seed and --scale) and rows due meanwhile arrive in one burst.

    \b
    Examples:
      supervise simulate --backfill 30                   a month, region scale
      supervise simulate --backfill 7 --scale 0.01 --until 2026-10-11
      supervise simulate --live --speed 60 --writers 4   an hour a minute
      supervise simulate --backfill 30 --live            history, then go on
      supervise simulate --summary                       what is in there
    """
    if until and not backfill_days:
        raise click.UsageError("--until needs --backfill")
    if until and live:
        raise click.UsageError("--live starts at the present; it cannot follow a backfill that ends --until a date")
    if not live and (speed != 1.0 or writers != 4):
        raise click.UsageError("--speed and --writers only apply with --live")

    from app.base.settings import load
    from rules.calendar import WorkCalendar

    settings = load()
    zone = settings.zone
    url = exchange_url or settings.exchange_url_resolved
    engine = _engine(url, settings)
    clock = _clock_from(now_text)
    if exchange.create_exchange_schema(engine):
        click.echo(f"Created the exchange schema in {_safe(url)}", err=True)
    if not (backfill_days or live) and summary:
        click.echo(database_report(engine))
        return

    region = build_region(seed, camera_url, camera_substream_url)
    if write_reference(engine, region):
        click.echo(
            f"Reference data: {len(region.centers)} centers, {len(region.departments):,} departments, "
            f"{len(region.windows):,} windows and cameras, {len(region.staff):,} staff, "
            f"{len(region.items):,} items",
            err=True,
        )
    calendar = WorkCalendar()
    feed = None
    if backfill_days:
        held = _event_count(engine)
        if held:
            raise click.ClickException(
                f"the exchange database already holds {held:,} case events; "
                "backfill into a fresh one (or use --live to continue it)"
            )
        end = (
            int(datetime.combine(until.date() + timedelta(days=1), datetime.min.time(), zone).timestamp())
            if until
            else int(clock().timestamp())
        )
        last_day = datetime.fromtimestamp(end - 1, zone).date()
        feed = Feed(
            region,
            calendar,
            zone,
            seed=seed,
            scale=scale,
            first_day=last_day - timedelta(days=backfill_days - 1),
            garbage_text=engine.dialect.name == "sqlite",
        )
        started = time.monotonic()
        tally = backfill(engine, feed, end, quiet=quiet)
        click.echo(tally.report(f"Backfill wrote in {time.monotonic() - started:.0f} s"))
    if live:
        feed = feed or _live_feed(engine, region, calendar, zone, seed, scale, clock)
        before = feed.tally.copy()
        with _stop_on_signals() as stop:
            tally = run_live(
                engine,
                feed,
                accelerated(clock, speed),
                stop,
                writers=writers,
                on_tick=None if quiet else _status_line(feed),
            )
        if not quiet:
            click.echo("", err=True)
        click.echo(tally.since(before).report("Live mode wrote"))
    if summary:
        click.echo(database_report(engine))
    engine.dispose()


def _engine(url: str, settings) -> Engine:
    """The exchange database to write; its statements (a day's COPY) may take the long limit."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    limits = Limits.of(settings)
    return exchange.exchange_engine(url, replace(limits, statement=limits.long_statement))


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _clock_from(start: datetime | None):
    """The real clock, or one that starts at `start` and runs at real speed."""
    if start is None:
        return lambda: datetime.now(UTC)
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def _event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(exchange.case_events)).scalar_one()


def _live_feed(engine: Engine, region, calendar, zone, seed: int, scale: float, clock) -> Feed:
    """A feed for live mode alone: fresh from now on an empty database, else resuming after its last row.

    Resuming redraws the cases of the last weeks (same seed: the same cases the
    backfill wrote) so that cases in progress go on; rows that arrived while
    nothing ran are pushed at once, as an upstream system catching up would.
    """
    now = int(clock().timestamp())
    today = datetime.fromtimestamp(now, zone).date()
    garbage = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(exchange.case_events.c.recorded_at), func.max(exchange.case_events.c.recorded_at))
        ).one()
    if last is None:
        return Feed(
            region, calendar, zone, seed=seed, scale=scale, first_day=today, garbage_text=garbage, received_from=now
        )
    if not isinstance(first, datetime) or not isinstance(last, datetime):
        raise click.ClickException("cannot read recorded_at of the rows already there; use a fresh database")
    first_day = max(first.astimezone(zone).date(), today - timedelta(days=RESUME_LOOKBACK_DAYS))
    feed = Feed(region, calendar, zone, seed=seed, scale=scale, first_day=first_day, garbage_text=garbage)
    resume = int(last.timestamp()) + 1
    click.echo(
        f"Resuming after the last row ({last.isoformat()}); redrawing cases since {first_day} "
        f"(use the seed and scale of the backfill)",
        err=True,
    )
    feed.generate_through(datetime.fromtimestamp(resume, zone).date())
    feed.take_until(resume)  # already in the database
    feed.tally = Tally()
    return feed


@contextmanager
def _stop_on_signals():
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _status_line(feed: Feed):
    last = [0.0]

    def show(tally: Tally) -> None:
        if time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            at = datetime.fromtimestamp(feed.days.midnight(feed.next_day) - 86400, feed.days.zone)
            sys.stderr.write(
                f"\rlive: {tally.events:,} events, {tally.ratings:,} ratings written "
                f"(simulating {at:%Y-%m-%d}, {feed.pending:,} rows to come)   "
            )
            sys.stderr.flush()

    return show
