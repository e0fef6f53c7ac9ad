"""``supervise video`` (run camera workers) and ``supervise cameras`` (list their health).

``supervise video`` pulls the enabled cameras of the exchange database that
are its own among the live video processes (:mod:`video.membership`: Redis
heartbeats, rendezvous hashing, failover); with ``--shard I/N`` those whose
static shard is I (0 ≤ I < N, see :mod:`video.sharding`). It re-reads the
cameras table every ``--reload-seconds`` (a changed URL, e.g. a new password,
restarts that camera), publishes health and thumbnails to Redis, appends
outages to the ``supervise:camera-outages`` stream and answers evidence
requests. SIGTERM or SIGINT stops it; ``--once-seconds S`` stops it after S
seconds.

``supervise cameras --json`` prints one JSON object per camera with a health
record in Redis; a record whose worker stopped reporting shows as offline.

``supervise cameras probe ID [--json]`` tells what one camera sends on its main
stream and substream (:mod:`video.probe`), without its password: what an
installer runs first.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from app.base.json_lines import limit_option
from video import redact

log = logging.getLogger(__name__)

LISTED_FIELDS = (
    "camera_id",
    "window_id",
    "state",
    "reason",
    "reason_code",
    "fps",
    "width",
    "height",
    "bitrate",
    "last_frame_at",
    "reconnects",
    "since",
    "member",
)


@click.command("video")
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Pull only the cameras of shard I of N (numbered from 0): a static split, no failover. "
    "Default: share the cameras with the other live `supervise video` processes (Redis heartbeats).",
)
@click.option(
    "--member",
    metavar="NAME",
    help="This process's name among the video processes (default: host:pid).",
)
@click.option(
    "--once-seconds",
    type=click.FloatRange(min=0),
    metavar="S",
    help="Stop after S seconds (smoke tests); default: run until SIGTERM/SIGINT.",
)
@click.option(
    "--reload-seconds",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="How often to re-read the cameras table.",
)
@click.option(
    "--evidence-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where evidence is written. Default: <var_dir>/evidence.",
)
@click.option(
    "--start-spread",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Spread the first connections over this many seconds.",
)
def video_command(
    shard: str | None,
    member: str | None,
    once_seconds: float | None,
    reload_seconds: float,
    evidence_dir: Path | None,
    start_spread: float,
) -> None:
    """Run camera workers: health, thumbnails, outages, evidence, live feeds."""
    redact.install()
    from sqlalchemy.exc import SQLAlchemyError

    from app.base.settings import VideoSettings, load
    from video.pool import start_workers
    from video.sharding import Shard

    if shard is not None and member is not None:
        raise click.BadParameter("a static shard has no member name: give one of --shard and --member")
    try:
        mine = Shard.parse(shard) if shard is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    settings = load()
    stop = _stop_on_signals()
    try:
        pool = start_workers(
            settings,
            stop,
            shard=mine,
            member=member,
            evidence_dir=evidence_dir,
            reload_seconds=reload_seconds,
            config=VideoSettings.from_settings(settings, start_spread=start_spread),
        )
    except SQLAlchemyError as exc:  # both databases answered and hold their tables: a fault of another kind
        cause = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"cannot start the camera workers: {redact.describe(cause)}") from None
    stop.wait(once_seconds)
    stop.set()
    left = pool.stop()
    if left:
        log.warning("threads still running at exit: %s", ", ".join(left))


@click.group("cameras", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--stale-after",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="A record older than this many seconds shows as offline (its worker is gone).",
)
@limit_option("cameras")
@click.pass_context
def cameras_command(ctx: click.Context, as_json: bool, stale_after: float, limit: int) -> None:
    """List camera health from Redis, one camera per line; `probe ID` tells what one camera sends."""
    if ctx.invoked_subcommand is not None:
        return
    redact.install()
    from app.base.messaging import connect
    from app.base.settings import load
    from video import health

    redis = connect(load())
    now = datetime.now(UTC)
    records = sorted(health.read_all(redis).items())
    for camera_id, record in records[: limit or None]:
        row = record.seen_at(now, stale_after).model_dump(mode="json", include=set(LISTED_FIELDS))
        if as_json:
            click.echo(json.dumps({name: row.get(name) for name in LISTED_FIELDS}, ensure_ascii=False))
        else:
            size = f"{row['width']}x{row['height']}" if row["width"] else "-"
            fps = f"{row['fps']:.1f}fps" if row["fps"] else "-"
            click.echo(f"{camera_id:<24} {row['state']:<8} {fps:>8} {size:>10}  {row['reason'] or ''}")
    if limit and len(records) > limit:
        click.echo(
            f"supervise: stopped after {limit} cameras; {len(records)} have a health record (--limit 0 for all)",
            err=True,
        )


@cameras_command.command("probe")
@click.argument("camera_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.5, max=60),
    default=3.0,
    show_default=True,
    help="Seconds of stream to measure fps and bit rate over.",
)
def probe_command(camera_id: str, as_json: bool, seconds: float) -> None:
    """Codec, profile, resolution, fps, bit rate, authentication, audio and substream of one camera."""
    redact.install()
    from app.base.settings import ConfigurationError, load
    from video.cameras import load_one, open_cameras
    from video.probe import probe

    settings = load()
    camera = load_one(open_cameras(settings), camera_id, settings.video.substream_vendor_of)
    if camera is None:
        raise ConfigurationError(f"no camera {camera_id!r} with a URL in the exchange database's cameras table")
    found = probe(camera, settings.video, seconds=seconds)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False))
    else:
        for name in ("main", "substream"):
            click.echo(f"{name:<10} {_stream_line(found[name])}")
    if found["main"].get("error"):
        raise SystemExit(1)


def _stream_line(found: dict | None) -> str:
    if found is None:
        return "none (no substream_url; SUPERVISE_CAMERA_SUBSTREAM_VENDOR may opt it into its vendor's)"
    head = f"{found['url']}  auth {found['auth'] or '?'}"
    if found.get("error"):
        return f"{head}  FAILED: {found['error']}"
    audio = found["audio"]
    sound = f"audio {audio['codec']} {audio['sample_rate']} Hz" if audio else "no audio"
    fps = f"{found['fps']:g} fps" if found.get("fps") else "? fps"
    rate = f"{found['bitrate'] / 1000:.0f} kbit/s" if found.get("bitrate") else "? kbit/s"
    return f"{head}  {found['codec']} {found['profile'] or ''} {found['width']}x{found['height']} {fps} {rate}  {sound}"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum, _frame) -> None:
        log.warning("signal %s: stopping camera workers", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)
    return stop
