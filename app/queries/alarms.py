"""Alarms as officers see them: the board of open ones, one alarm, its actions, load per place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, select
from sqlalchemy import case as sql_case

from app.base.tables import alarm_actions, alarms, is_row_id
from app.scope import Scope
from rules import escalation

BOARD_LIMIT = 200

_BOARD_COLUMNS = (
    alarms.c.id,
    alarms.c.kind,
    alarms.c.level,
    alarms.c.case_no,
    alarms.c.subject,
    alarms.c.center_id,
    alarms.c.dept_id,
    alarms.c.window_id,
    alarms.c.staff_id,
    alarms.c.camera_id,
    alarms.c.fired_at,
    alarms.c.due,
    alarms.c.state,
    alarms.c.acknowledged_at,
    alarms.c.urged_at,
    alarms.c.updated_at,
    alarms.c.closed_reason,
    alarms.c.closed_at,
)


@dataclass(frozen=True)
class BoardFilters:
    center_id: str | None = None
    dept_id: str | None = None
    kind: str | None = None
    level: str | None = None

    def where(self):
        conditions = []
        if self.center_id:
            conditions.append(alarms.c.center_id == self.center_id)
        if self.dept_id:
            conditions.append(alarms.c.dept_id == self.dept_id)
        if self.kind:
            conditions.append(alarms.c.kind == self.kind)
        if self.level:
            conditions.append(alarms.c.level == self.level)
        return and_(True, *conditions)


@dataclass(frozen=True)
class Board:
    rows: list[dict]  # newest first, at most BOARD_LIMIT
    alarm_count: int
    warning_count: int
    escalated_count: int

    @property
    def total(self) -> int:
        return self.alarm_count + self.warning_count


def is_escalated(row: dict, now: datetime, escalate_after: timedelta) -> bool:
    """Unacknowledged for longer than the control room allows (derived from time: rules.escalation)."""
    return escalation.is_escalated(row["state"], row["fired_at"], now, escalate_after)


def board(
    engine: Engine,
    scope: Scope,
    filters: BoardFilters,
    now: datetime,
    escalate_after: timedelta,
    limit: int = BOARD_LIMIT,
) -> Board:
    """Open (not closed) alarms in `scope` matching `filters`, newest first, with counts."""
    visible = and_(alarms.c.state != "closed", scope.where(alarms.c.center_id, alarms.c.dept_id), filters.where())
    # rules.escalation.is_escalated, as SQL
    escalated = and_(alarms.c.state == "open", alarms.c.fired_at <= escalation.fired_by(now, escalate_after))
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(*_BOARD_COLUMNS)
                .where(visible)
                .order_by(alarms.c.fired_at.desc(), alarms.c.id.desc())
                .limit(limit)
            )
            .mappings()
            .all()
        )
        counts = conn.execute(
            select(alarms.c.level, func.count(), func.sum(sql_case((escalated, 1), else_=0)))
            .where(visible)
            .group_by(alarms.c.level)
        ).all()
    by_level = {level: (n, int(esc or 0)) for level, n, esc in counts}
    return Board(
        [dict(r) for r in rows],
        by_level.get("alarm", (0, 0))[0],
        by_level.get("warning", (0, 0))[0],
        sum(esc for _, esc in by_level.values()),
    )


def alarm(engine: Engine, scope: Scope, alarm_id: int) -> dict | None:
    """One alarm, or None when it does not exist or lies outside `scope` (the two look the same)."""
    if not is_row_id(alarm_id):
        return None
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(*_BOARD_COLUMNS).where(
                    alarms.c.id == alarm_id, scope.where(alarms.c.center_id, alarms.c.dept_id)
                )
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def actions(engine: Engine, scope: Scope, alarm_ids: list[int]) -> list[dict]:
    """Officers' and the system's actions on those of `alarm_ids` that lie in `scope`, oldest first."""
    if not alarm_ids:
        return []
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(alarm_actions)
                .join(alarms, alarms.c.id == alarm_actions.c.alarm_id)
                .where(alarm_actions.c.alarm_id.in_(alarm_ids), scope.where(alarms.c.center_id, alarms.c.dept_id))
                .order_by(alarm_actions.c.at, alarm_actions.c.id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def for_case(engine: Engine, scope: Scope, case_no: str) -> list[dict]:
    """Every alarm of a case (closed ones too: history is evidence) within `scope`."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(*_BOARD_COLUMNS)
                .where(alarms.c.case_no == case_no, scope.where(alarms.c.center_id, alarms.c.dept_id))
                .order_by(alarms.c.fired_at, alarms.c.id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def load_by_place(engine: Engine, scope: Scope, by: str = "center", center_id: str | None = None) -> dict[str, dict]:
    """Open alarms and warnings per center (or per department of `center_id`) in `scope`."""
    column = alarms.c.center_id if by == "center" else alarms.c.dept_id
    conditions = [alarms.c.state != "closed", scope.where(alarms.c.center_id, alarms.c.dept_id)]
    if center_id:
        conditions.append(alarms.c.center_id == center_id)
    with engine.connect() as conn:
        rows = conn.execute(
            select(column, alarms.c.level, func.count()).where(*conditions).group_by(column, alarms.c.level)
        ).all()
    load: dict[str, dict] = {}
    for place, level, n in rows:
        load.setdefault(place or "", {"alarm": 0, "warning": 0})[level] = n
    return load


def change_marker(engine: Engine) -> tuple:
    """What the board polls: the newest alarm id and update instant. Not scoped: it reveals no row."""
    with engine.connect() as conn:
        newest_id, newest_update = conn.execute(select(func.max(alarms.c.id), func.max(alarms.c.updated_at))).one()
    return newest_id or 0, str(newest_update or "")


def listing(
    engine: Engine,
    scope: Scope,
    filters: BoardFilters,
    state: str = "open",
    case_no: str | None = None,
    limit: int = 1000,
) -> list[dict]:
    """Alarms for the API: open ones (not closed) or all, newest first, within `scope`."""
    conditions = [scope.where(alarms.c.center_id, alarms.c.dept_id), filters.where()]
    if state == "open":
        conditions.append(alarms.c.state != "closed")
    if case_no:
        conditions.append(alarms.c.case_no == case_no)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(*_BOARD_COLUMNS)
                .where(*conditions)
                .order_by(alarms.c.fired_at.desc(), alarms.c.id.desc())
                .limit(limit)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def changed_in_scope(
    engine: Engine, scope: Scope, filters: BoardFilters, since_id: int, since_update: datetime
) -> bool:
    """Has any alarm in `scope` matching `filters` appeared or changed after this id and instant?

    Cheap (the primary key and the updated_at index find the few recent rows) so a
    change elsewhere in the region costs a scope nothing more than this.
    """
    from sqlalchemy import or_

    with engine.connect() as conn:
        hit = conn.execute(
            select(alarms.c.id)
            .where(
                or_(alarms.c.id > since_id, alarms.c.updated_at > since_update),
                scope.where(alarms.c.center_id, alarms.c.dept_id),
                filters.where(),
            )
            .limit(1)
        ).first()
    return hit is not None
