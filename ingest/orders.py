"""The clocks of the supervision loop, fired in event time through due indexes like every other clock.

Once per ingest cycle :func:`judge_orders`

1. judges every supervision order that is due (``supervision_orders.next_change`` ≤ now)
   for ``order_overdue`` (rules.orders.order_overdue): its feedback not given by the round's
   due date fires at 00:00 after it, with no new event;
2. feeds the watch of red alarms (``supervision_watch``): every red alarm changed since the
   mark is put in it to be judged (a new one, one that closed or was revoked);
3. judges every watched alarm that is due for ``not_supervised``
   (rules.orders.not_supervised): no order on it by ``add_working(date(fired), N)``.

Alarms are reconciled exactly like case alarms, so an answer or an order ends them and
history is never deleted. The steps that change an order or an alarm's supervision
(app/orders/) mark them due; this module only judges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from app.base.alarm_stream import AlarmChange
from app.base.calendars import CalendarBook
from app.base.database import insert_for
from app.base.tables import alarms, order_alarms, supervision_orders, supervision_watch, supervision_watch_mark
from ingest import store
from ingest.store import JUDGE_NOW
from rules.alarms import reconcile
from rules.orders import (
    NOT_SUPERVISED_DAYS,
    ORDER_KINDS,
    WATCH_KINDS,
    OrderRound,
    OrderState,
    WatchedAlarm,
    not_supervised,
    order_next_change,
    order_overdue,
    watch_next_change,
)

MARK = "alarms"
CHUNK = 900
LOOP_KINDS = sorted(ORDER_KINDS | WATCH_KINDS)  # the loop's own alarms are not watched for an order


def judge_orders(
    db: Engine,
    calendars: CalendarBook,
    tz: tzinfo,
    now: datetime,
    not_supervised_days: int = NOT_SUPERVISED_DAYS,
    limit: int = 5000,
) -> list[AlarmChange]:
    """Judge every due order and watched alarm at `now`; store and return the alarm changes.
    With `not_supervised_days` 0 the not_supervised clock is off: red alarms are not watched."""
    messages = _judge_due_orders(db, tz, now, limit)
    if not_supervised_days <= 0:
        return messages
    _feed_watch(db)
    return messages + _judge_due_watch(db, calendars, tz, now, not_supervised_days, limit)


def next_order_due(conn: Connection) -> datetime | None:
    """The earliest instant an order's or a watched alarm's alarm changes by itself."""
    due = [
        conn.execute(select(func.min(supervision_orders.c.next_change))).scalar(),
        conn.execute(select(func.min(supervision_watch.c.next_change))).scalar(),
    ]
    return min((d for d in due if d is not None), default=None)


# --- order_overdue --------------------------------------------------------------------------------


def _judge_due_orders(db: Engine, tz: tzinfo, now: datetime, limit: int) -> list[AlarmChange]:
    messages: list[AlarmChange] = []
    while True:
        with db.begin() as conn:
            due = (
                conn.execute(
                    select(supervision_orders)
                    .where(supervision_orders.c.next_change <= now)
                    .order_by(supervision_orders.c.next_change, supervision_orders.c.id)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
            if not due:
                return messages
            rounds = [_round(row) for row in due]
            stored = _stored_by_subject(conn, ORDER_KINDS, [r.subject for r in rounds])
            facts = [f for f in (order_overdue(r, now, tz) for r in rounds) if f is not None]
            messages += _apply(conn, stored, facts, now, ORDER_KINDS)
            conn.execute(
                update(supervision_orders)
                .where(supervision_orders.c.id == bindparam("order_id"))
                .values(next_change=bindparam("new_next")),
                [{"order_id": r.order_id, "new_next": order_next_change(r, now, tz)} for r in rounds],
            )


def _round(row) -> OrderRound:
    answered = row["answered_at"] if row["state"] != OrderState.AWAITING else None
    return OrderRound(
        row["id"], row["round"], row["case_no"], row["center_id"], row["dept_id"], row["feedback_due"], answered
    )


# --- not_supervised -------------------------------------------------------------------------------


def _feed_watch(db: Engine) -> None:
    """Every red alarm updated at or after the mark joins the watch, due at once; the mark moves on."""
    with db.begin() as conn:
        mark = conn.execute(
            select(supervision_watch_mark.c.updated_mark).where(supervision_watch_mark.c.name == MARK)
        ).scalar()
        query = select(alarms.c.id, alarms.c.updated_at).where(
            alarms.c.level == "alarm", alarms.c.kind.not_in(LOOP_KINDS)
        )
        if mark is not None:
            query = query.where(alarms.c.updated_at >= mark)
        found = conn.execute(query).all()
        if not found:
            return
        for part in store.chunks([r.id for r in found], CHUNK):
            stmt = insert_for(conn, supervision_watch)
            stmt = stmt.on_conflict_do_update(
                index_elements=["alarm_id"], set_={"next_change": stmt.excluded.next_change}
            )
            conn.execute(stmt, [{"alarm_id": a, "next_change": JUDGE_NOW} for a in part])
        newest = max(r.updated_at for r in found)
        stmt = insert_for(conn, supervision_watch_mark).values(name=MARK, updated_mark=newest)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"updated_mark": newest}))


def _judge_due_watch(
    db: Engine, calendars: CalendarBook, tz: tzinfo, now: datetime, days: int, limit: int
) -> list[AlarmChange]:
    messages: list[AlarmChange] = []
    while True:
        with db.begin() as conn:
            ids = (
                conn.execute(
                    select(supervision_watch.c.alarm_id)
                    .where(supervision_watch.c.next_change <= now)
                    .order_by(supervision_watch.c.next_change, supervision_watch.c.alarm_id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if not ids:
                return messages
            watched = _watched(conn, ids)
            stored = _stored_by_subject(conn, WATCH_KINDS, [w.subject for w in watched])
            facts = []
            nexts = {alarm_id: None for alarm_id in ids}  # an alarm gone from the table: out of the index
            for w in watched:
                calendar = calendars.for_center(w.center_id)
                fact = not_supervised(w, calendar, days, now, tz)
                facts += [fact] if fact is not None else []
                nexts[w.alarm_id] = watch_next_change(w, calendar, days, now, tz)
            messages += _apply(conn, stored, facts, now, WATCH_KINDS)
            conn.execute(
                update(supervision_watch)
                .where(supervision_watch.c.alarm_id == bindparam("watched"))
                .values(next_change=bindparam("new_next")),
                [{"watched": a, "new_next": n} for a, n in nexts.items()],
            )


def _watched(conn: Connection, ids: Sequence[int]) -> list[WatchedAlarm]:
    first_order = (
        select(order_alarms.c.alarm_id, func.min(supervision_orders.c.issued_at).label("supervised_at"))
        .join(supervision_orders, supervision_orders.c.id == order_alarms.c.order_id)
        .where(order_alarms.c.alarm_id.in_(ids))
        .group_by(order_alarms.c.alarm_id)
    )
    supervised = dict(conn.execute(first_order).all())
    rows = conn.execute(select(alarms).where(alarms.c.id.in_(ids))).mappings()
    return [
        WatchedAlarm(
            r["id"],
            r["case_no"],
            r["center_id"],
            r["dept_id"],
            r["fired_at"],
            r["closed_at"],
            r["closed_reason"],
            supervised.get(r["id"]),
        )
        for r in rows
    ]


# --- shared ---------------------------------------------------------------------------------------


def _apply(conn: Connection, stored: dict, facts: list, now: datetime, scope) -> list[AlarmChange]:
    rows = {key: row for key, row in stored.items()}
    changes = reconcile([store.stored_alarm(r) for r in rows.values()], facts, now, scope=scope)
    return store.apply_changes(conn, changes, rows, now)


def _stored_by_subject(conn: Connection, kinds: Iterable[str], subjects: Iterable[str]) -> dict[tuple, dict]:
    found: dict[tuple, dict] = {}
    for part in store.chunks(sorted(set(subjects)), CHUNK):
        query = select(alarms).where(alarms.c.kind.in_(sorted(kinds)), alarms.c.subject.in_(part))
        for row in conn.execute(query).mappings():
            found[(row["kind"], row["case_no"], row["subject"])] = dict(row)
    return found
