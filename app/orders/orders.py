"""Supervision orders (督办单): issue, answer (反馈), accept (办结), return (退回), and reading them.

An officer issues an order on open alarms of one case and one department, with
instructions and a feedback deadline in working days of the department's center
calendar; the order gets the next number of its year (桂政监督〔2026〕第 0123 号). The
department's users answer with the cause and the measures taken; the officer accepts,
or returns it with a reason and a new deadline (the next round). Each step is written
with its history entry, an audit-log entry and, on issue, an ``order`` action on every
alarm it covers (with its message in the alarm stream's outbox), in one transaction.
The order is then marked due, so the next ingest cycle judges its clock
(ingest/orders.py): an answer after the deadline ends the round's ``order_overdue``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import Connection, Engine, insert, select, update

from app.base import outbox
from app.base.alarm_stream import change_from
from app.base.calendars import CalendarBook
from app.base.database import insert_for
from app.base.tables import (
    alarm_actions,
    alarms,
    audit_log,
    is_row_id,
    order_alarms,
    order_numbers,
    supervision_history,
    supervision_orders,
    supervision_watch,
)
from app.orders.actors import Actor, Refused
from app.queries.reference import Reference
from app.scope import Scope
from ingest.store import JUDGE_NOW
from rules.orders import FEEDBACK_DAYS, OrderState, due_in, order_number

MAX_TEXT = 4000  # characters of instructions, cause, measures, reason


@dataclass(frozen=True)
class OrderRules:
    """What the settings decide about orders (SUPERVISE_ORDER_*)."""

    tz: tzinfo
    calendars: CalendarBook
    prefix: str = "桂政监督"
    feedback_days: int = FEEDBACK_DAYS


def issue(
    engine: Engine,
    actor: Actor,
    alarm_ids: Sequence[int],
    instructions: str,
    now: datetime,
    rules: OrderRules,
    reference: Reference,
    feedback_days: int | None = None,
) -> dict:
    """Issue an order on `alarm_ids` (open alarms of one case and one department) and return it."""
    if not actor.officer:
        raise Refused(f"{actor.name} is a {actor.scope.role} user: orders are issued by the officers above it")
    instructions = required_text(instructions, "instructions (--instructions)")
    days = _days(rules.feedback_days if feedback_days is None else feedback_days)
    ids = sorted(set(alarm_ids))
    if not ids or not all(is_row_id(i) for i in ids):
        raise Refused("an order needs the ids of one or more alarms")
    with engine.begin() as conn:
        found = {
            r["id"]: dict(r)
            for r in conn.execute(select(alarms).where(alarms.c.id.in_(ids)).with_for_update()).mappings()
        }
        for alarm_id in ids:
            alarm = found.get(alarm_id)
            if alarm is None or not actor.scope.allows(alarm["center_id"], alarm["dept_id"]):
                raise Refused(f"no alarm with id {alarm_id} in {actor.name}'s scope")
            if alarm["state"] == "closed":
                raise Refused(f"alarm {alarm_id} is closed ({alarm['closed_reason']}): there is nothing to supervise")
        places = {(a["case_no"], a["center_id"], a["dept_id"]) for a in found.values()}
        if len(places) > 1:
            raise Refused("an order covers alarms of one case and one department; issue one order for each")
        case_no, center_id, dept_id = places.pop()
        if dept_id is None:
            raise Refused(f"alarm {ids[0]} belongs to no department: there is nobody to answer an order")
        busy = conn.execute(
            select(order_alarms.c.alarm_id, supervision_orders.c.order_no)
            .join(supervision_orders, supervision_orders.c.id == order_alarms.c.order_id)
            .where(order_alarms.c.alarm_id.in_(ids), supervision_orders.c.state != OrderState.ACCEPTED)
        ).first()
        if busy is not None:
            raise Refused(f"alarm {busy.alarm_id} is already under order {busy.order_no}, not yet accepted")
        year = now.astimezone(rules.tz).year
        sequence = _next_sequence(conn, year)
        due = due_in(rules.calendars.for_center(center_id), now, days, rules.tz)
        center = reference.centers.get(center_id or "")
        order_id = conn.execute(
            insert(supervision_orders)
            .values(
                order_no=order_number(rules.prefix, year, sequence),
                year=year,
                sequence=sequence,
                case_no=case_no,
                center_id=center_id,
                dept_id=dept_id,
                escalated_to=center.parent_id if center else None,
                instructions=instructions,
                state=OrderState.AWAITING,
                round=1,
                feedback_due=due,
                issued_by=actor.name,
                issued_at=now,
                next_change=JUDGE_NOW,
                updated_at=now,
            )
            .returning(supervision_orders.c.id)
        ).scalar_one()
        conn.execute(insert(order_alarms), [{"order_id": order_id, "alarm_id": a} for a in ids])
        order = _order(conn, order_id)
        detail = {"order_no": order["order_no"], "alarms": ids, "instructions": instructions, "due": due.isoformat()}
        record_step(conn, "order", order_id, "issued", actor.name, now, detail)
        conn.execute(
            insert(alarm_actions),
            [
                {"alarm_id": a, "action": "order", "actor": actor.name, "note": order["order_no"], "at": now}
                for a in ids
            ],
        )
        outbox.write(conn, [change_from(found[a], "order", actor.name, now) for a in ids])
        watch_again(conn, ids)
    return order


def answer(engine: Engine, actor: Actor, order_id: int, cause: str, measures: str, now: datetime) -> dict:
    """The department's feedback (反馈) on its order: the cause and the measures taken."""
    cause, measures = required_text(cause, "cause (--cause)"), required_text(measures, "measures taken (--measures)")
    with engine.begin() as conn:
        order = _order_for(conn, actor.scope, order_id)
        if actor.department is None or actor.department != order["dept_id"]:
            raise Refused(f"order {order['order_no']} is answered by a user of its own department only")
        if order["state"] != OrderState.AWAITING:
            raise Refused(f"order {order['order_no']} is {order['state']}: it awaits no feedback")
        if now < order["issued_at"]:
            raise Refused(f"order {order['order_no']} was issued at {order['issued_at'].isoformat()}, after now")
        _set(conn, order_id, state=OrderState.ANSWERED, answered_at=now, next_change=JUDGE_NOW, updated_at=now)
        detail = {
            "round": order["round"],
            "cause": cause,
            "measures": measures,
            "due": order["feedback_due"].isoformat(),
        }
        record_step(conn, "order", order_id, "answered", actor.name, now, detail)
        return _order(conn, order_id)


def accept(engine: Engine, actor: Actor, order_id: int, note: str, now: datetime) -> dict:
    """The officer accepts the feedback: the order is done (办结)."""
    note = required_text(note, "note (--note)")
    with engine.begin() as conn:
        order = _decidable(conn, actor, order_id)
        _set(conn, order_id, state=OrderState.ACCEPTED, accepted_by=actor.name, accepted_at=now, updated_at=now)
        record_step(conn, "order", order_id, "accepted", actor.name, now, {"round": order["round"], "note": note})
        return _order(conn, order_id)


def return_order(
    engine: Engine,
    actor: Actor,
    order_id: int,
    reason: str,
    now: datetime,
    rules: OrderRules,
    feedback_days: int | None = None,
) -> dict:
    """The officer returns the feedback (退回) with a reason: a new round, due in working days from now."""
    reason = required_text(reason, "reason (--reason)")
    days = _days(rules.feedback_days if feedback_days is None else feedback_days)
    with engine.begin() as conn:
        order = _decidable(conn, actor, order_id)
        due = due_in(rules.calendars.for_center(order["center_id"]), now, days, rules.tz)
        _set(
            conn,
            order_id,
            state=OrderState.AWAITING,
            round=order["round"] + 1,
            feedback_due=due,
            answered_at=None,
            next_change=JUDGE_NOW,
            updated_at=now,
        )
        detail = {"round": order["round"] + 1, "reason": reason, "due": due.isoformat()}
        record_step(conn, "order", order_id, "returned", actor.name, now, detail)
        return _order(conn, order_id)


# --- reading ------------------------------------------------------------------------------------


def orders_in(engine: Engine, scope: Scope, state: str | None = None, limit: int = 10_000) -> list[dict]:
    """Orders in `scope` (a department sees its own), newest first; `state` 'open' = not accepted."""
    query = select(supervision_orders).where(scope.where(supervision_orders.c.center_id, supervision_orders.c.dept_id))
    if state == "open":
        query = query.where(supervision_orders.c.state != OrderState.ACCEPTED)
    elif state:
        query = query.where(supervision_orders.c.state == state)
    query = query.order_by(supervision_orders.c.issued_at.desc(), supervision_orders.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def order_view(engine: Engine, scope: Scope, order_id: int) -> dict | None:
    """One order with its alarm ids and its whole history, or None outside `scope` (the two look the same)."""
    with engine.connect() as conn:
        try:
            order = _order_for(conn, scope, order_id)
        except Refused:
            return None
        order["alarm_ids"] = list(
            conn.execute(
                select(order_alarms.c.alarm_id).where(order_alarms.c.order_id == order_id).order_by("alarm_id")
            ).scalars()
        )
        order["history"] = history(conn, "order", order_id)
        return order


def history(conn: Connection, subject: str, subject_id: int) -> list[dict]:
    query = (
        select(supervision_history)
        .where(supervision_history.c.subject == subject, supervision_history.c.subject_id == subject_id)
        .order_by(supervision_history.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


# --- inside -------------------------------------------------------------------------------------


def _order(conn: Connection, order_id: int) -> dict:
    return dict(conn.execute(select(supervision_orders).where(supervision_orders.c.id == order_id)).mappings().one())


def _order_for(conn: Connection, scope: Scope, order_id: int) -> dict:
    """The order, locked for the step, if `scope` may see it; else refused as if it did not exist."""
    row = None
    if is_row_id(order_id):
        row = (
            conn.execute(select(supervision_orders).where(supervision_orders.c.id == order_id).with_for_update())
            .mappings()
            .first()
        )
    if row is None or not scope.allows(row["center_id"], row["dept_id"]):
        raise Refused(f"no order with id {order_id} in this user's scope")
    return dict(row)


def _decidable(conn: Connection, actor: Actor, order_id: int) -> dict:
    order = _order_for(conn, actor.scope, order_id)
    if not actor.officer:
        raise Refused(f"{actor.name} is a {actor.scope.role} user: feedback is accepted or returned by an officer")
    if order["state"] != OrderState.ANSWERED:
        raise Refused(f"order {order['order_no']} is {order['state']}: only answered feedback is accepted or returned")
    return order


def _set(conn: Connection, order_id: int, **values) -> None:
    conn.execute(update(supervision_orders).where(supervision_orders.c.id == order_id).values(**values))


def record_step(conn: Connection, subject: str, subject_id: int, action: str, actor: str, at: datetime, detail) -> None:
    """The step in the subject's history and in the audit log, in the caller's transaction."""
    conn.execute(
        insert(supervision_history).values(
            subject=subject, subject_id=subject_id, action=action, actor=actor, at=at, detail=detail
        )
    )
    conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=f"{subject}_{action}",
            target=f"{subject}:{subject_id}",
            detail=detail,
            remote_addr=None,
        )
    )


def _next_sequence(conn: Connection, year: int) -> int:
    """The next number of `year`: one upsert, so two officers issuing at once never share one."""
    stmt = insert_for(conn, order_numbers).values(year=year, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=["year"], set_={"last": order_numbers.c.last + 1})
    return conn.execute(stmt.returning(order_numbers.c.last)).scalar_one()


def watch_again(conn: Connection, alarm_ids: Sequence[int]) -> None:
    """The alarms' not_supervised clocks are judged at the next ingest cycle (an order ends them)."""
    stmt = insert_for(conn, supervision_watch)
    stmt = stmt.on_conflict_do_update(index_elements=["alarm_id"], set_={"next_change": stmt.excluded.next_change})
    conn.execute(stmt, [{"alarm_id": a, "next_change": JUDGE_NOW} for a in alarm_ids])


def required_text(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Refused(f"this step needs the {what}")
    if len(value) > MAX_TEXT:
        raise Refused(f"the {what.split(' (')[0]} is {len(value)} characters long; at most {MAX_TEXT}")
    return value


def _days(days: int) -> int:
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
        raise Refused(f"a feedback deadline is 1 to 60 working days, not {days!r}")
    return days
