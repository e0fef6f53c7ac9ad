"""Officers' actions on an alarm: acknowledge, urge (督办), close.

The one place that changes an alarm on a person's word, used by the command
line and the web app alike. Every action is appended to ``alarm_actions``
(which the database refuses to update or delete), and its message to the
alarm stream's outbox (app/base/outbox.py), in the same transaction as the change
it records; the caller nudges a relay to publish it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from app.base import outbox
from app.base.alarm_stream import AlarmChange, change_from
from app.base.tables import alarm_actions, alarms

ACTIONS = ("ack", "urge", "close")


class ActionRefused(ValueError):
    """The action does not apply to the alarm as it stands; the message says why."""


@dataclass(frozen=True)
class ActionResult:
    alarm: dict
    action_id: int
    action: str
    by: str
    change: AlarmChange  # its message on the alarm stream (in the outbox already)


def act(engine: Engine, alarm_id: int, action: str, by: str, note: str, now: datetime) -> ActionResult:
    """Apply an officer's `action` to alarm `alarm_id`, recorded with who, when and why."""
    if action not in ACTIONS:
        raise ActionRefused(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    by, note = (by or "").strip(), (note or "").strip()
    if not by:
        raise ActionRefused("an action needs the officer's name (--by)")
    if not note:
        raise ActionRefused("an action needs a note saying why (--note)")
    with engine.begin() as conn:
        row = conn.execute(select(alarms).where(alarms.c.id == alarm_id).with_for_update()).mappings().first()
        if row is None:
            raise ActionRefused(f"no alarm with id {alarm_id}")
        if row["state"] == "closed":
            raise ActionRefused(f"alarm {alarm_id} is already closed ({row['closed_reason']})")
        values: dict = {"updated_at": now}
        if action == "ack":
            if row["state"] == "acknowledged":
                raise ActionRefused(f"alarm {alarm_id} is already acknowledged")
            values |= {"state": "acknowledged", "acknowledged_at": now}
        elif action == "urge":
            values |= {"urged_at": now}
        else:
            values |= {"state": "closed", "closed_reason": "manual", "closed_at": now}
        conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(**values))
        action_id = conn.execute(
            insert(alarm_actions)
            .values(alarm_id=alarm_id, action=action, actor=by, note=note, at=now)
            .returning(alarm_actions.c.id)
        ).scalar_one()
        alarm = dict(conn.execute(select(alarms).where(alarms.c.id == alarm_id)).mappings().one())
        change = change_from(alarm, action, by, now)
        outbox.write(conn, [change])
    return ActionResult(alarm, action_id, action, by, change)
