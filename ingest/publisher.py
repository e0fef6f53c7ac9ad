"""Alarm changes published to Redis for the dashboard and other processes.

Stream ``supervise:alarms`` (Redis stream, capped near 100,000 entries): one
entry per change, field ``json`` holding an :class:`AlarmChange` (versioned).
The supervision database stays the truth; the stream tells readers *when* to
look, so a reader that starts takes a snapshot from the database and then
reads the stream from the id it noted before the snapshot
(:func:`snapshot_position`), and misses nothing in between.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Iterable, Literal

from pydantic import BaseModel

log = logging.getLogger(__name__)

STREAM = "supervise:alarms"
STREAM_MAXLEN = 100_000


class AlarmChange(BaseModel):
    """One change of one alarm: fired, acknowledged, urged, closed…"""

    v: Literal[1] = 1
    alarm_id: int
    action: str  # fired, ack, urge, close, resolved, retracted
    actor: str
    kind: str
    level: str
    state: str
    closed_reason: str | None = None
    case_no: str | None = None
    subject: str = ""
    center_id: str | None = None
    dept_id: str | None = None
    window_id: str | None = None
    camera_id: str | None = None
    fired_at: datetime
    at: datetime


def publish(redis, changes: Iterable[AlarmChange]) -> int:
    """Append `changes` to the stream; returns how many were sent."""
    pipe = redis.pipeline(transaction=False)
    count = 0
    for change in changes:
        pipe.xadd(STREAM, {"json": change.model_dump_json()}, maxlen=STREAM_MAXLEN, approximate=True)
        count += 1
    if count:
        pipe.execute()
    return count


def snapshot_position(redis) -> str:
    """The id after which a reader that snapshots now must read the stream."""
    last = redis.xrevrange(STREAM, count=1)
    if not last:
        return "0-0"
    entry_id = last[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def read_after(redis, position: str, block_ms: int | None = None, count: int = 1000) -> tuple[str, list[AlarmChange]]:
    """Changes after `position`, and the new position."""
    reply = redis.xread({STREAM: position}, count=count, block=block_ms)
    changes: list[AlarmChange] = []
    for _stream, entries in reply or []:
        for entry_id, fields in entries:
            position = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            raw = fields.get(b"json", fields.get("json"))
            try:
                changes.append(AlarmChange.model_validate(json.loads(raw)))
            except (ValueError, TypeError) as exc:
                log.warning("skipping unreadable alarm message %s: %s", position, exc)
    return position, changes


def change_from(alarm: dict, action: str, actor: str, at: datetime) -> AlarmChange:
    """The message for `action` just applied to the stored `alarm` row."""
    fields = {k: alarm.get(k) for k in AlarmChange.model_fields if k in alarm and k not in ("v",)}
    return AlarmChange(alarm_id=alarm["id"], action=action, actor=actor, at=at, **{
        k: v for k, v in fields.items() if k not in ("alarm_id", "action", "actor", "at")
    })


def publish_action(settings, result) -> None:
    """Tell other processes about an officer's action (ingest.actions.ActionResult)."""
    from app.messaging import connect  # noqa: PLC0415

    alarm = result.alarm
    try:
        publish(connect(settings), [change_from(alarm, result.action, result.by, alarm["updated_at"])])
    except Exception as exc:  # noqa: BLE001 - the action is committed; the stream is only a notification
        log.warning("alarm %s changed but the notification could not be sent: %s", alarm["id"], exc)

