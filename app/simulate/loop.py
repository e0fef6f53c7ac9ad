"""The simulator's other side: officers and departments playing the supervision loop.

Each red alarm, order and appeal gets a fate from a hash of its id and the seed, so a run
is the same however often it is played: officers order most red alarms within a few
working hours; departments answer most orders in time, some late, some never; officers
accept most answers and return a few; a few alarms are appealed and decided. A step is
taken once its instant (event time) has come, at that instant, through the same functions
the command line and the pages use, so the demo shows a living loop and a month's
assessment. :func:`play` is idempotent: it only takes the steps not yet taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, select

from app.base.tables import alarms, appeals, order_alarms, supervision_orders
from app.orders import appeals as appeal_steps
from app.orders import orders as order_steps
from app.orders.actors import Actor, Refused
from app.orders.orders import OrderRules
from app.queries.reference import Reference
from app.scope import scope_for

OFFICER = "模拟督查员"  # the simulated officers act under this name, with their center's scope
CLERK = "模拟联络员"  # and the departments' users under this one


@dataclass(frozen=True)
class Odds:
    order: float = 0.7  # a red alarm gets an order
    answer_in_time: float = 0.75  # an order is answered before its due date
    answer_late: float = 0.15  # after it (the rest: never)
    returned: float = 0.15  # an answer is returned once
    appeal: float = 0.04  # a red alarm is appealed by its department
    revoke: float = 0.4  # an appeal is upheld (撤销); reject otherwise, a few referred
    refer: float = 0.1


def fate(seed: int, *parts) -> float:
    """A number in [0, 1) fixed by the seed and `parts`: the same every run."""
    digest = hashlib.sha256(":".join(str(p) for p in (seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def play(
    engine: Engine, reference: Reference, rules: OrderRules, now: datetime, seed: int = 1, odds: Odds = Odds()
) -> dict[str, int]:
    """Take every step of the loop whose instant has come by `now`; counts of the steps taken."""
    taken = {"issued": 0, "answered": 0, "accepted": 0, "returned": 0, "appealed": 0, "decided": 0}
    _issue(engine, reference, rules, now, seed, odds, taken)
    _answer(engine, reference, now, seed, odds, taken)
    _review(engine, reference, rules, now, seed, odds, taken)
    _appeal(engine, reference, rules, now, seed, odds, taken)
    return taken


def _officer(reference: Reference, center_id: str | None) -> Actor:
    """An officer of the center's own level (a region's officer decides what was referred to the region)."""
    center = reference.centers.get(center_id or "")
    role = {"region": "region", "city": "city"}.get(center.level if center else "", "center")
    return Actor(OFFICER, scope_for(role, center_id or "", reference))


def _clerk(reference: Reference, dept_id: str | None) -> Actor:
    return Actor(CLERK, scope_for("department", dept_id or "", reference))


def _issue(engine, reference, rules, now, seed, odds, taken) -> None:
    ordered = exists().where(order_alarms.c.alarm_id == alarms.c.id)
    query = (
        select(alarms)
        .where(alarms.c.level == "alarm", alarms.c.state != "closed", alarms.c.dept_id.is_not(None), ~ordered)
        .where(alarms.c.kind.not_in(("order_overdue", "not_supervised")))
        .where(alarms.c.fired_at <= now - timedelta(hours=2))
        .order_by(alarms.c.fired_at, alarms.c.id)
        .limit(500)
    )
    with engine.connect() as conn:
        due = [dict(r) for r in conn.execute(query).mappings()]
    for alarm in due:
        if fate(seed, "order", alarm["id"]) >= odds.order:
            continue
        at = min(alarm["fired_at"] + timedelta(hours=2 + 20 * fate(seed, "order-at", alarm["id"])), now)
        try:
            order_steps.issue(
                engine,
                _officer(reference, alarm["center_id"]),
                [alarm["id"]],
                "请说明原因并限期整改",
                at,
                rules,
                reference,
            )
            taken["issued"] += 1
        except Refused:
            pass  # closed, or under an order since: nothing to do


def _answer(engine, reference, now, seed, odds, taken) -> None:
    query = select(supervision_orders).where(supervision_orders.c.state == "awaiting")
    with engine.connect() as conn:
        waiting = [dict(r) for r in conn.execute(query).mappings()]
    for order in waiting:
        luck = fate(seed, "answer", order["id"], order["round"])
        if luck >= odds.answer_in_time + odds.answer_late:
            continue  # never answered: order_overdue will fire
        due_end = datetime.combine(order["feedback_due"], datetime.min.time(), tzinfo=now.tzinfo) + timedelta(days=1)
        start = order["issued_at"] if order["round"] == 1 else order["updated_at"]
        if luck < odds.answer_in_time:
            at = start + (due_end - start) * (0.2 + 0.7 * fate(seed, "answer-at", order["id"], order["round"]))
        else:
            at = due_end + timedelta(hours=10 + 48 * fate(seed, "late-at", order["id"], order["round"]))
        if at > now:
            continue
        try:
            order_steps.answer(
                engine, _clerk(reference, order["dept_id"]), order["id"], "人员不足", "已增派人员并限期办结", at
            )
            taken["answered"] += 1
        except Refused:
            pass


def _review(engine, reference, rules, now, seed, odds, taken) -> None:
    query = select(supervision_orders).where(supervision_orders.c.state == "answered")
    with engine.connect() as conn:
        answered = [dict(r) for r in conn.execute(query).mappings()]
    for order in answered:
        at = order["answered_at"] + timedelta(hours=4)
        if at > now:
            continue
        officer = _officer(reference, order["center_id"])
        try:
            if order["round"] == 1 and fate(seed, "return", order["id"]) < odds.returned:
                order_steps.return_order(engine, officer, order["id"], "整改措施不具体，请补充", at, rules)
                taken["returned"] += 1
            else:
                order_steps.accept(engine, officer, order["id"], "整改到位，同意办结", at)
                taken["accepted"] += 1
        except Refused:
            pass


def _appeal(engine, reference, rules, now, seed, odds, taken) -> None:
    appealed = exists().where(appeals.c.alarm_id == alarms.c.id)
    query = (
        select(alarms)
        .where(and_(alarms.c.level == "alarm", alarms.c.state != "closed", alarms.c.dept_id.is_not(None), ~appealed))
        .where(alarms.c.kind.not_in(("order_overdue", "not_supervised")))
        .where(alarms.c.fired_at <= now - timedelta(hours=1))
        .order_by(alarms.c.fired_at, alarms.c.id)
        .limit(500)
    )
    with engine.connect() as conn:
        candidates = [dict(r) for r in conn.execute(query).mappings()]
        pending = [
            dict(r)
            for r in conn.execute(select(appeals).where(appeals.c.state.in_(("pending", "referred")))).mappings()
        ]
    for alarm in candidates:
        if fate(seed, "appeal", alarm["id"]) >= odds.appeal:
            continue
        at = min(alarm["fired_at"] + timedelta(hours=1), now)
        try:
            appeal_steps.file(
                engine,
                _clerk(reference, alarm["dept_id"]),
                alarm["id"],
                "系统数据未同步，实际已按时办理",
                "",
                at,
                rules,
            )
            taken["appealed"] += 1
        except Refused:
            pass
    for appeal in pending:
        at = appeal["updated_at"] + timedelta(hours=6)
        if at > now:
            continue
        luck = fate(seed, "decide", appeal["id"], appeal["state"])
        decision = "revoke" if luck < odds.revoke else "refer" if luck < odds.revoke + odds.refer else "reject"
        if decision == "refer" and appeal["state"] == "referred":
            decision = "reject"
        try:
            appeal_steps.decide(
                engine, _officer(reference, appeal["at_center"]), appeal["id"], decision, "经核查", at, rules, reference
            )
            taken["decided"] += 1
        except Refused:
            pass
