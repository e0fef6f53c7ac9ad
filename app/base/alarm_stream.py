"""The alarm stream: every alarm change, for the dashboard and any other process to follow.

Stream ``supervise:alarms`` (Redis stream, capped near 100,000 entries): one
entry per change, in the order the changes were committed, with two fields:

* ``json``: an :class:`AlarmChange` (JSON with a ``version`` field);
* ``change_id``: the change's id in the supervision database's outbox. Each
  change is on the stream exactly once; a reader that keeps what it has done
  by this id never does it twice, whatever happens to it.

Nothing writes to the stream but the outbox relay (:mod:`app.base.outbox`): a
change is written to the outbox in the same transaction as the change
itself, and the relay publishes it when Redis is reachable. The supervision
database stays the truth; the stream tells readers *when* to look, so a reader
that starts takes a snapshot from the database and then reads the stream
from the id it noted before the snapshot (:func:`snapshot_position`), and
misses nothing in between.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field

log = logging.getLogger(__name__)

STREAM = "supervise:alarms"
STREAM_MAXLEN = 100_000


class AlarmChange(BaseModel):
    """One change of one alarm: fired, acknowledged, urged, closed…"""

    # Every Redis message's version field is `version`; a message written by the release
    # before this one says `v`, and still reads (for one release).
    version: Literal[1] = Field(1, validation_alias=AliasChoices("version", "v"))
    alarm_id: int
    action: str  # fired, ack, urge, close, resolved, retracted, escalated, reopened, updated
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
    change_id: int | None = None  # the outbox id, from the entry's own field: None until it is in the outbox

    def body(self) -> str:
        """The ``json`` field as stored in the outbox (the change id travels beside it)."""
        return self.model_dump_json(exclude={"change_id"})


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
            change_id = fields.get(b"change_id", fields.get("change_id"))
            try:
                changes.append(
                    AlarmChange.model_validate(
                        {**json.loads(raw), "change_id": int(change_id) if change_id is not None else None}
                    )
                )
            except (ValueError, TypeError) as exc:
                log.warning("skipping unreadable alarm message %s: %s", position, exc)
    return position, changes


def change_from(alarm: Mapping, action: str, actor: str, at: datetime) -> AlarmChange:
    """The message for `action` just applied to the stored `alarm` row: the one builder of an AlarmChange."""
    return AlarmChange(
        alarm_id=alarm["id"],
        action=action,
        actor=actor,
        kind=alarm["kind"],
        level=alarm["level"],
        state=alarm["state"],
        closed_reason=alarm.get("closed_reason"),
        case_no=alarm.get("case_no"),
        subject=alarm.get("subject", ""),
        center_id=alarm.get("center_id"),
        dept_id=alarm.get("dept_id"),
        window_id=alarm.get("window_id"),
        camera_id=alarm.get("camera_id"),
        fired_at=alarm["fired_at"],
        at=at,
    )
