"""`supervise demo`: the whole system on one machine, on embedded defaults.

One process runs every component in its own thread, because the embedded
Redis stand-in lives in this process: the simulated region keeps writing into
the exchange database, the ingest follows it, camera workers watch the demo
cameras, completion SMS go to a file, and the dashboard serves the control
room. Stop with Ctrl-C.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import func, select

from app.base.settings import Settings, load

log = logging.getLogger("demo")

DEMO_SEED = 1
DEMO_SCENES = 8


def _say(text: str) -> None:
    click.echo(text, err=True)


def _camera_password(var_dir: Path) -> str:
    """The demo cameras' RTSP password: made once, kept in var/ (never printed)."""
    path = var_dir / "demo-camera-password"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def _prepare_exchange(ctx: click.Context, settings: Settings, days: int, scale: float, camera_url: str) -> None:
    """Create and backfill the exchange database the first time."""
    from app.base import exchange
    from app.simulate.command import simulate_command

    engine = exchange.exchange_engine(settings.exchange_url_resolved)
    exchange.create_exchange_schema(engine)
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(exchange.case_events)).scalar_one()
    if held:
        _say(f"Exchange database already holds {held:,} case events; continuing it.")
        return
    _say(f"Simulating {days} days of the region at {scale:.0%} of its traffic…")
    ctx.invoke(
        simulate_command,
        exchange_url=settings.exchange_url_resolved,
        seed=DEMO_SEED,
        scale=scale,
        backfill_days=days,
        until=None,
        live=False,
        speed=1.0,
        writers=4,
        camera_url=camera_url,
        camera_substream_url=None,
        now_text=None,
        summary=False,
        quiet=False,
    )


def _wall_cameras(settings: Settings, count: int) -> list[str]:
    """The cameras of the first `count` windows: watched all the time, the others only when viewed."""
    from app.base import exchange

    engine = exchange.exchange_engine(settings.exchange_url_resolved)
    with engine.connect() as conn:
        rows = conn.execute(select(exchange.cameras.c.camera_id)).scalars().all()
    return _natural_first(rows, count)


def _natural_first(camera_ids: list[str], count: int) -> list[str]:
    def key(camera_id: str):
        digits = "".join(ch for ch in camera_id if ch.isdigit())
        return (int(digits) if digits else 0, camera_id)

    return sorted(camera_ids, key=key)[:count]


def _start_ingest(settings: Settings, stop: threading.Event) -> threading.Thread:
    from ingest.leader import Leadership
    from ingest.runner import build

    ingest = build(settings)

    def run() -> None:
        leadership = Leadership(ingest.db)
        while not stop.is_set():
            if leadership.try_acquire():
                ingest.follow(lambda: datetime.now(UTC), stop, still_leader=leadership.held)
            else:
                stop.wait(1.0)
        leadership.release()

    thread = threading.Thread(target=run, name="demo.ingest", daemon=True)
    thread.start()
    return thread


def _start_live_simulator(settings: Settings, scale: float, camera_url: str, stop: threading.Event) -> threading.Thread:
    from app.base import exchange
    from app.simulate.command import _live_feed
    from app.simulate.live import accelerated, run_live
    from app.simulate.region import build_region
    from rules.calendar import WorkCalendar

    engine = exchange.exchange_engine(settings.exchange_url_resolved)
    now = lambda: datetime.now(UTC)
    feed = _live_feed(engine, build_region(DEMO_SEED, camera_url), WorkCalendar(), settings.zone, DEMO_SEED, scale, now)
    thread = threading.Thread(
        target=run_live,
        args=(engine, feed, accelerated(now, 1.0), stop),
        kwargs={"writers": 1},
        name="demo.simulate",
        daemon=True,
    )
    thread.start()
    return thread


class _DemoLive:
    """Live video for the dashboard: the wall's cameras from the workers, any other camera pulled while viewed."""

    def __init__(self, pool, on_demand):
        self.pool, self.on_demand = pool, on_demand

    def live_feed(self, camera_id: str):
        return self.pool.live_feed(camera_id) or self.on_demand.live_feed(camera_id)


def _start_video(settings: Settings, wall: list[str], password: str, port: int, stop: threading.Event):
    """Demo cameras over real RTSP (any /camN is served), and camera workers watching the wall."""
    from video.demo_cameras import start_demo_cameras
    from video.pool import start_workers

    try:
        # Every /camN is served; a few distinct scenes keep the encoders' CPU low.
        server = start_demo_cameras(
            min(len(wall), DEMO_SCENES),
            port=port,
            user="demo",
            password=password,
            var_dir=settings.var_dir,
            truth_dir=settings.var_dir / "demo-presence",  # when staff leave and return: ground truth for 空岗
        )
    except RuntimeError as exc:
        _say(
            f"Video: {exc}; the dashboard shows no live pictures (see --rtsp-port, and 'make demo' installs GStreamer)."
        )
        return None
    threading.Thread(target=lambda: (stop.wait(), server.stop()), name="demo.cameras-stop", daemon=True).start()
    atexit.register(server.stop)
    from video.cameras import engine_for, load_enabled
    from video.routes import OnDemandLive

    engine = engine_for(settings.exchange_url_resolved)
    on_demand = OnDemandLive(lambda: load_enabled(engine), settings.video)
    return _DemoLive(start_workers(settings, stop, only=set(wall)), on_demand)


def _start_loop(settings: Settings, engine, stop: threading.Event) -> threading.Thread:
    """Officers and departments play the supervision loop (app/simulate/loop.py) every half minute."""
    from app.base import exchange
    from app.base.calendars import CalendarBook
    from app.orders.orders import OrderRules
    from app.queries.reference import read_reference
    from app.simulate.loop import play

    reference = read_reference(exchange.exchange_engine(settings.exchange_url_resolved))
    rules = OrderRules(settings.zone, CalendarBook.from_dir(settings.calendar_dir), settings.order_prefix)

    def run() -> None:
        while True:
            try:
                play(engine, reference, rules, datetime.now(UTC), seed=DEMO_SEED)
            except Exception:  # a database outage: app.base.outage says so; try again next round
                log.exception("the simulated supervision loop failed this round")
            if stop.wait(30.0):
                return

    thread = threading.Thread(target=run, name="demo.loop", daemon=True)
    thread.start()
    return thread


@click.command("demo")
@click.option("--port", default=8050, show_default=True, help="Port of the dashboard.")
@click.option("--days", default=21, show_default=True, help="Days of history simulated on the first run.")
@click.option(
    "--scale",
    default=0.02,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Share of the region's real traffic to simulate (1.0 ≈ 26,000 cases a working day).",
)
@click.option("--cameras", default=16, show_default=True, help="Windows whose cameras the demo streams over RTSP.")
@click.option("--rtsp-port", default=8554, show_default=True, help="Port of the demo RTSP server.")
@click.pass_context
def demo_command(ctx: click.Context, port: int, days: int, scale: float, cameras: int, rtsp_port: int) -> None:
    """Run everything on embedded defaults and print the URL.

    The first run creates SQLite databases under ./var/ (SUPERVISE_VAR_DIR) and
    simulates a few weeks of a scaled-down region; later runs continue them.
    Then the simulator keeps writing live, the ingest follows, demo cameras
    stream, and the dashboard serves the control room until Ctrl-C.
    """
    settings = load()
    password = _camera_password(settings.var_dir)
    camera_url = f"rtsp://demo:{password}@127.0.0.1:{rtsp_port}/cam{{n}}"
    _prepare_exchange(ctx, settings, days, scale, camera_url)
    wall = _wall_cameras(settings, cameras)

    from app.base.database import open_database

    engine = open_database(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    _say("Taking in the history…")
    from ingest.runner import build

    totals = build(settings).run_once(datetime.now(UTC))
    _say(f"Ingest: {totals.events:,} events taken in, {totals.rejected:,} set aside, {totals.changes:,} alarm changes.")

    _start_ingest(settings, stop)
    _start_live_simulator(settings, scale, camera_url, stop)
    _start_loop(settings, engine, stop)
    pool = _start_video(settings, wall, password, rtsp_port, stop)
    from app.sms.runner import start as start_sms_sender

    start_sms_sender(settings, lambda: datetime.now(UTC), stop, engine=engine)
    _say(f"SMS: completion messages go to {settings.var_dir / 'sms-outbox.jsonl'} (the file gateway).")
    _start_web(settings, engine, port, pool)
    stop.wait()
    _say("Stopping…")
    time.sleep(0.5)


def _start_web(settings: Settings, engine, port: int, video_live=None) -> None:
    from app.serve import run_in_thread
    from app.users import ensure_demo_user

    name, password = ensure_demo_user(engine)
    run_in_thread(settings, port, video_live=video_live)
    url = f"http://127.0.0.1:{port}/"
    _say("")
    click.echo(f"  supervise is running: {url}")
    _say(f"  log in as {name!r} with password {password!r}")
    _say("  Ctrl-C stops it.")
    _say("")
