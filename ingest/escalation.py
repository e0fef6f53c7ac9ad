"""Escalation (超时升级): an alarm left unacknowledged past the control room's limit.

The board shows it from time alone, this sweep records it, both by the rule
in :mod:`rules.escalation`, so the audit trail says when an alarm was left
too long: one ``escalated`` entry by ``system`` in ``alarm_actions`` per alarm,
``at`` the instant it passed the limit (``fired_at`` + limit, in event time,
whenever the sweep notices), and one message on the alarm stream (through the
outbox, in the same transaction).

The records are a function of the alarms alone
(:func:`rules.escalation.escalated_at`): an alarm is escalated when its limit
has passed by the sweep's `now` and it was neither acknowledged nor closed at
that instant. So they are the same however many times, however
often and in whatever order of instants the sweep runs; in particular the
first sweep of a database looks at every alarm, closed history included
(history is told the same whether or not a sweep ran while it happened).

Exactly once, with any number of sweeping processes: a unique index on
``alarm_actions (alarm_id) WHERE action = 'escalated'`` lets one INSERT in and
turns the others into nothing (``ON CONFLICT DO NOTHING``); only the process
whose row went in writes the message. The sweep is cheap enough for every
ingest cycle: ``escalation_sweep`` remembers up to which ``fired_at`` the
alarms were looked at, so each sweep reads only the alarms that passed the
limit since, new alarms (which may have fired long ago, from late data) and
alarms changed since (reopened, moved, or acknowledged after their limit).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, exists, func, or_, select, text, update

from app.base import outbox
from app.base.alarm_stream import AlarmChange, change_from
from app.base.database import insert_for
from app.base.tables import alarm_actions, alarms, escalation_sweep
from rules.escalation import escalated_at, fired_by

log = logging.getLogger(__name__)

SWEEP = "alarms"
# An alarm committed this long after a sweep's instant, with an id it had already
# passed (ids are handed out before commit), is still looked at by the next sweep.
MARGIN = timedelta(minutes=10)
CHUNK = 1000
STATES = ("open", "acknowledged", "closed")
_COLUMNS = (
    alarms.c.id,
    alarms.c.kind,
    alarms.c.level,
    alarms.c.case_no,
    alarms.c.subject,
    alarms.c.center_id,
    alarms.c.dept_id,
    alarms.c.window_id,
    alarms.c.camera_id,
    alarms.c.fired_at,
    alarms.c.state,
    alarms.c.closed_reason,
    alarms.c.acknowledged_at,
    alarms.c.closed_at,
)


def escalate(engine: Engine, now: datetime, escalate_after: timedelta) -> list[AlarmChange]:
    """Record every alarm that passed `escalate_after` unacknowledged by `now`, each with its
    message in the alarm stream's outbox; returns the messages (the relay publishes them)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware instant")
    cut = fired_by(now, escalate_after)
    with engine.begin() as conn:
        mark = conn.execute(select(escalation_sweep).where(escalation_sweep.c.name == SWEEP)).mappings().first()
        newest_id = conn.execute(select(func.max(alarms.c.id))).scalar() or 0
        rows = conn.execute(select(*_COLUMNS).where(_candidates(mark, cut), ~_escalated())).mappings().all()
        passed = {}
        for r in rows:
            at = escalated_at(r["fired_at"], r["acknowledged_at"], r["closed_at"], now, escalate_after)
            if at is not None:
                passed[r["id"]] = (dict(r), at)
        recorded = _record(conn, [(alarm_id, at) for alarm_id, (_, at) in passed.items()])
        changes = [
            change_from(passed[alarm_id][0], "escalated", "system", passed[alarm_id][1])
            for alarm_id in sorted(recorded, key=lambda i: (passed[i][1], i))
        ]
        outbox.write(conn, changes)
        _advance(conn, mark, cut, newest_id, now)
    return changes


def _escalated():
    return exists().where(alarm_actions.c.alarm_id == alarms.c.id, alarm_actions.c.action == "escalated")


def _candidates(mark, cut: datetime):
    """The alarms that may have passed the limit since the last sweep (every alarm, the first time)."""
    past_limit = alarms.c.fired_at <= cut
    if mark is None:
        return past_limit
    return and_(
        past_limit,
        or_(
            and_(alarms.c.state.in_(STATES), alarms.c.fired_at > mark["fired_until"]),  # the (state, fired_at) index
            alarms.c.id > mark["after_id"],
            alarms.c.updated_at >= mark["swept_at"] - MARGIN,
        ),
    )


def _record(conn: Connection, due: list[tuple[int, datetime]]) -> set[int]:
    """Append the escalations; the ids whose row went in (another process may have been first)."""
    recorded: set[int] = set()
    for index in range(0, len(due), CHUNK):
        rows = [
            dict(alarm_id=alarm_id, action="escalated", actor="system", note="", at=at)
            for alarm_id, at in due[index : index + CHUNK]
        ]
        statement = (
            insert_for(conn, alarm_actions)
            .values(rows)
            .on_conflict_do_nothing(
                # The index's own predicate, written out: once the statement is prepared and planned
                # generically (after ten runs or so), PostgreSQL cannot match it to a bound parameter.
                index_elements=[alarm_actions.c.alarm_id],
                index_where=text("action = 'escalated'"),
            )
        )
        recorded.update(conn.execute(statement.returning(alarm_actions.c.alarm_id)).scalars())
    return recorded


def _advance(conn: Connection, mark, cut: datetime, newest_id: int, now: datetime) -> None:
    """Move the mark forward (never back: a replay of an earlier instant re-reads, it does not forget)."""
    values = dict(fired_until=cut, after_id=newest_id, swept_at=now)
    if mark is None:
        conn.execute(insert_for(conn, escalation_sweep).values(name=SWEEP, **values).on_conflict_do_nothing())
    else:
        conn.execute(
            update(escalation_sweep)
            .where(escalation_sweep.c.name == SWEEP, escalation_sweep.c.fired_until <= cut)
            .values(**values)
        )
