"""Appeals (申诉): a department contests an alarm; an officer of the level above decides.

A department user files an appeal of one of its department's alarms, with a reason
and evidence text; the decision is due in working days (SUPERVISE_APPEAL_DAYS). The
officers of the alarm's center decide first: 撤销 (revoke: the alarm closes as
``revoked`` and counts nowhere), 驳回 (reject: it stands) or 上报 (refer: the officers
of the next level up decide, with a new deadline). Every step is in the appeal's
history and the audit log, in the transaction that takes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from app.base import outbox
from app.base.alarm_stream import change_from
from app.base.tables import alarm_actions, alarms, appeals, is_row_id
from app.orders.actors import Actor, Refused
from app.orders.orders import OrderRules, history, record_step, required_text, watch_again
from app.queries.reference import Reference
from app.scope import Scope
from rules.orders import APPEAL_DAYS, APPEAL_DECISIONS, AppealState, due_in

OPEN_STATES = (AppealState.PENDING, AppealState.REFERRED)


def file(
    engine: Engine,
    actor: Actor,
    alarm_id: int,
    reason: str,
    evidence: str,
    now: datetime,
    rules: OrderRules,
    appeal_days: int = APPEAL_DAYS,
) -> dict:
    """A department user's appeal of alarm `alarm_id` of their own department."""
    reason = required_text(reason, "reason (--reason)")
    evidence = (evidence or "").strip()
    if actor.department is None:
        raise Refused(f"{actor.name} is a {actor.scope.role} user: appeals are filed by the department's own users")
    with engine.begin() as conn:
        alarm = None
        if is_row_id(alarm_id):
            alarm = conn.execute(select(alarms).where(alarms.c.id == alarm_id).with_for_update()).mappings().first()
        if alarm is None or alarm["dept_id"] != actor.department:
            raise Refused(f"no alarm with id {alarm_id} of {actor.name}'s department")
        if alarm["state"] == "closed":
            raise Refused(f"alarm {alarm_id} is closed ({alarm['closed_reason']}): there is nothing to appeal")
        open_one = conn.execute(
            select(appeals.c.id).where(appeals.c.alarm_id == alarm_id, appeals.c.state.in_(OPEN_STATES))
        ).scalar()
        if open_one is not None:
            raise Refused(f"alarm {alarm_id} has appeal {open_one} awaiting its decision")
        decide_by = due_in(rules.calendars.for_center(alarm["center_id"]), now, appeal_days, rules.tz)
        appeal_id = conn.execute(
            insert(appeals)
            .values(
                alarm_id=alarm_id,
                case_no=alarm["case_no"],
                center_id=alarm["center_id"],
                dept_id=alarm["dept_id"],
                at_center=alarm["center_id"],
                state=AppealState.PENDING,
                reason=reason,
                evidence=evidence,
                filed_by=actor.name,
                filed_at=now,
                decide_by=decide_by,
                updated_at=now,
            )
            .returning(appeals.c.id)
        ).scalar_one()
        detail = {"alarm": alarm_id, "reason": reason, "evidence": evidence, "decide_by": decide_by.isoformat()}
        record_step(conn, "appeal", appeal_id, "filed", actor.name, now, detail)
        return _appeal(conn, appeal_id)


def decide(
    engine: Engine,
    actor: Actor,
    appeal_id: int,
    decision: str,
    note: str,
    now: datetime,
    rules: OrderRules,
    reference: Reference,
    appeal_days: int = APPEAL_DAYS,
) -> dict:
    """An officer's decision: 'revoke' (撤销), 'reject' (驳回) or 'refer' (上报 to the next level)."""
    if decision not in APPEAL_DECISIONS:
        raise Refused(f"unknown decision {decision!r}; use one of {', '.join(APPEAL_DECISIONS)}")
    note = required_text(note, "note (--note)")
    with engine.begin() as conn:
        appeal = _appeal_for(conn, actor.scope, appeal_id)
        if not actor.officer:
            raise Refused(f"{actor.name} is a {actor.scope.role} user: appeals are decided by the officers above it")
        if appeal["state"] not in OPEN_STATES:
            raise Refused(f"appeal {appeal_id} is already decided ({appeal['state']})")
        if not actor.scope.allows_center(appeal["at_center"]):
            raise Refused(f"appeal {appeal_id} was referred to {appeal['at_center']}: its officers decide it now")
        values: dict = {"updated_at": now, "decided_by": actor.name, "decided_at": now, "decision_note": note}
        detail: dict = {"note": note}
        if decision == "refer":
            center = reference.centers.get(appeal["at_center"] or "")
            if center is None or center.parent_id is None:
                raise Refused(f"appeal {appeal_id} is at the top level already: revoke or reject it")
            decide_by = due_in(rules.calendars.for_center(center.parent_id), now, appeal_days, rules.tz)
            values |= {"state": AppealState.REFERRED, "at_center": center.parent_id, "decide_by": decide_by}
            detail |= {"to": center.parent_id, "decide_by": decide_by.isoformat()}
        else:
            values["state"] = APPEAL_DECISIONS[decision]
        conn.execute(update(appeals).where(appeals.c.id == appeal_id).values(**values))
        if decision == "revoke":
            _revoke_alarm(conn, appeal["alarm_id"], actor.name, note, now)
        record_step(conn, "appeal", appeal_id, decision, actor.name, now, detail)
        return _appeal(conn, appeal_id)


def appeals_in(engine: Engine, scope: Scope, state: str | None = None, limit: int = 10_000) -> list[dict]:
    """Appeals in `scope`, newest first; `state` 'open' = pending or referred."""
    query = select(appeals).where(scope.where(appeals.c.center_id, appeals.c.dept_id))
    if state == "open":
        query = query.where(appeals.c.state.in_(OPEN_STATES))
    elif state:
        query = query.where(appeals.c.state == state)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(appeals.c.filed_at.desc(), appeals.c.id.desc()).limit(limit)).mappings()
        return [dict(r) for r in rows]


def appeal_view(engine: Engine, scope: Scope, appeal_id: int) -> dict | None:
    with engine.connect() as conn:
        try:
            appeal = _appeal_for(conn, scope, appeal_id)
        except Refused:
            return None
        appeal["history"] = history(conn, "appeal", appeal_id)
        return appeal


def _revoke_alarm(conn, alarm_id: int, by: str, note: str, now: datetime) -> None:
    """The alarm closes as revoked (撤销), whatever state it was in: it should not stand."""
    conn.execute(
        update(alarms)
        .where(alarms.c.id == alarm_id)
        .values(state="closed", closed_reason="revoked", closed_at=now, updated_at=now)
    )
    conn.execute(insert(alarm_actions).values(alarm_id=alarm_id, action="revoked", actor=by, note=note, at=now))
    alarm = dict(conn.execute(select(alarms).where(alarms.c.id == alarm_id)).mappings().one())
    outbox.write(conn, [change_from(alarm, "revoked", by, now)])
    watch_again(conn, [alarm_id])


def _appeal(conn, appeal_id: int) -> dict:
    return dict(conn.execute(select(appeals).where(appeals.c.id == appeal_id)).mappings().one())


def _appeal_for(conn, scope: Scope, appeal_id: int) -> dict:
    row = None
    if is_row_id(appeal_id):
        row = conn.execute(select(appeals).where(appeals.c.id == appeal_id).with_for_update()).mappings().first()
    if row is None or not scope.allows(row["center_id"], row["dept_id"]):
        raise Refused(f"no appeal with id {appeal_id} in this user's scope")
    return dict(row)
