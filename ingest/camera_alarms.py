"""camera_offline alarms (视频离线), from the camera workers' outage stream.

The video workers append each outage's start and end to the Redis stream
``supervise:camera-outages`` (written by :mod:`video.outage`, described by :class:`app.base.camera_messages.OutageEvent`); here each message is
judged by :func:`rules.cameras.camera_offline` and reconciled like any other
alarm: one alarm per outage (subject = the instant of the last good frame),
closed `resolved` when frames come back. Reading is at least once (the read
position is saved after the results commit) and judging is idempotent, so a
crash between the two repeats nothing visible.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import Engine, select

from app.base import camera_keys as keys
from app.base.alarm_stream import AlarmChange
from app.base.camera_messages import OutageEvent
from app.base.exchange import cameras, windows
from app.base.tables import alarms
from ingest import metrics, store
from rules.alarms import reconcile
from rules.cameras import camera_offline

log = logging.getLogger(__name__)

POSITION_KEY = "supervise:camera-outages:read-position"
KIND = "camera_offline"


def camera_places(exchange: Engine) -> dict[str, tuple[str | None, str | None, str | None, str | None]]:
    """camera_id -> (center, dept, window, staff) of the window it films."""
    query = select(cameras.c.camera_id, windows.c.center_id, windows.c.dept_id, windows.c.window_id).join(
        windows, windows.c.window_id == cameras.c.window_id
    )
    with exchange.connect() as conn:
        return {row.camera_id: (row.center_id, row.dept_id, row.window_id, None) for row in conn.execute(query)}


def take_outages(redis, db: Engine, places: dict, now: datetime, count: int = 1000) -> list[AlarmChange]:
    """Judge the outage messages not yet read; returns the alarm changes to publish."""
    position = redis.get(POSITION_KEY) or b"0-0"
    reply = redis.xread({keys.OUTAGE_STREAM: position}, count=count)
    if not reply:
        return []
    entries = reply[0][1]
    latest: dict[tuple[str, datetime], OutageEvent] = {}  # an outage's end supersedes its start
    for entry_id, fields in entries:
        raw = fields.get(b"event", fields.get("event"))
        try:
            outage = OutageEvent.model_validate_json(raw)
        except (ValidationError, TypeError) as exc:
            log.warning("outage message %s is unreadable and is skipped: %s", entry_id, exc)
            continue
        latest[(outage.camera_id, outage.since)] = outage
    with db.begin() as conn:
        changes, rows = [], {}
        for outage in latest.values():
            stored = (
                conn.execute(
                    select(alarms).where(
                        alarms.c.kind == KIND,
                        alarms.c.camera_id == outage.camera_id,
                        alarms.c.subject == outage.since.isoformat(),
                    )
                )
                .mappings()
                .all()
            )
            try:
                fact = camera_offline(
                    outage.camera_id,
                    outage.since,
                    now,
                    threshold=timedelta(seconds=outage.offline_after),
                    frames_back_at=outage.ended_at,
                    place=places.get(outage.camera_id, (None,) * 4),
                )
                if fact is None:
                    continue  # a gap shorter than the threshold, or not yet due at `now`
                found = reconcile([store.stored_alarm(row) for row in stored], [fact], now, scope={KIND})
            except Exception as exc:
                _set_aside(conn, outage, exc, now)
                continue
            rows.update({(KIND, None, row["subject"]): dict(row) for row in stored})
            changes += found
        published = store.apply_changes(conn, changes, rows, now)
    redis.set(POSITION_KEY, entries[-1][0])
    return published


def _set_aside(conn, outage: OutageEvent, exc: Exception, now: datetime) -> None:
    error = f"{type(exc).__name__}: {exc}"[:200]
    reason = (
        f"camera {outage.camera_id!r} outage since {outage.since.isoformat()} cannot be judged ({error}); it is skipped"
    )
    log.error("%s", reason, exc_info=exc)
    store.log_quality(
        conn,
        "judging",
        [(0, reason, store.raw_row(("camera_id", "since", "error"), (outage.camera_id, outage.since, error)))],
        now,
    )
    metrics.set_aside_total.labels("outage").inc()
