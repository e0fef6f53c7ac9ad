"""A month's assessment in the database: counted, scored, locked, published, adjusted.

:func:`compute` counts the month's items per unit (alarms fired in it, except those
retracted or revoked; orders issued; ratings below 60; appeals revoked) and scores them
with the rules (rules/assessment.py); a draft is recomputed as data arrives. Late data
that falls in a locked month does not change it: the difference of a recount is carried
into the month being computed, as its ``late`` points, with where it came from.
:func:`lock` and :func:`publish` move a month on; :func:`adjust` records a manual
adjustment with a reason, in the audit log and the append-only adjustments table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, time, tzinfo

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from app.base.tables import (
    alarms,
    appeals,
    assessment_adjustments,
    assessment_months,
    assessment_scores,
    audit_log,
    ratings,
    supervision_orders,
)
from rules.assessment import AssessmentRules, late_points, parse_rules, score_month
from rules.ratings import LOW_SCORE

LOOK_BACK_MONTHS = 12  # locked months whose late data is still carried
NOT_COUNTED = ("retracted", "revoked")


class AssessmentRefused(ValueError):
    """The step does not apply to the month as it stands; the message says why."""


def parse_month(text: str) -> date:
    """'2026-11' as its first day; anything else refused in one line."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise AssessmentRefused(f"{text!r} is not a month like 2026-11") from None


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def count_month(conn: Connection, month: date, tz: tzinfo) -> dict[str, dict[str, int]]:
    """Counted items per unit ('dept:<id>', 'center:<id>') of `month`, local dates."""
    start = datetime.combine(month, time.min, tzinfo=tz)
    end = datetime.combine(next_month(month), time.min, tzinfo=tz)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counted = alarms.c.closed_reason.is_(None) | alarms.c.closed_reason.not_in(NOT_COUNTED)
    query = (
        select(alarms.c.center_id, alarms.c.dept_id, alarms.c.kind, func.count())
        .where(alarms.c.fired_at >= start, alarms.c.fired_at < end, counted)
        .group_by(alarms.c.center_id, alarms.c.dept_id, alarms.c.kind)
    )
    for center_id, dept_id, kind, n in conn.execute(query):
        if kind == "not_supervised" and center_id:
            counts[f"center:{center_id}"]["center:not_supervised"] += n
        elif dept_id:
            counts[f"dept:{dept_id}"][f"kind:{kind}"] += n
        elif center_id:
            counts[f"center:{center_id}"][f"kind:{kind}"] += n
    for table, column, item, extra in (
        (supervision_orders, supervision_orders.c.issued_at, "order", ()),
        (ratings, ratings.c.rated_at, "low_rating", (ratings.c.score < LOW_SCORE,)),
        (appeals, appeals.c.decided_at, "upheld_appeal", (appeals.c.state == "revoked",)),
    ):
        query = (
            select(table.c.dept_id, func.count())
            .where(column >= start, column < end, table.c.dept_id.is_not(None), *extra)
            .group_by(table.c.dept_id)
        )
        for dept_id, n in conn.execute(query):
            counts[f"dept:{dept_id}"][item] += n
    return {unit: dict(items) for unit, items in counts.items()}


def compute(
    engine: Engine, month: date, rules: AssessmentRules, departments: Mapping[str, str], tz: tzinfo, now: datetime
) -> list[dict]:
    """Score `month` as a draft from the data as it stands; a locked month is refused (it never changes)."""
    with engine.begin() as conn:
        state = _state(conn, month, lock=True)
        if state is not None and state["state"] != "draft":
            raise AssessmentRefused(f"{month:%Y-%m} is {state['state']}: a locked month never changes")
        counts = count_month(conn, month, tz)
        late, late_from = _late(conn, month, tz)
        adjustments = _adjustments(conn, month)
        known = dict(departments)
        for unit, _items in counts.items():
            if unit.startswith("dept:") and unit[5:] not in known:
                known[unit[5:]] = _center_of(conn, unit[5:]) or ""
        scores = score_month(rules, known, counts, late, adjustments)
        conn.execute(delete(assessment_scores).where(assessment_scores.c.month == month))
        conn.execute(
            insert(assessment_scores),
            [
                {
                    "month": month,
                    "unit": s.unit,
                    "center_id": s.center_id,
                    "dept_id": s.dept_id,
                    "score": s.score,
                    "deductions": s.deductions,
                    "late": s.late,
                    "adjustments": s.adjustments,
                    "counts": dict(s.counts),
                    "late_from": late_from.get(s.unit, {}),
                }
                for s in scores
            ],
        )
        values = {"state": "draft", "rules_version": rules.version, "rules_text": rules.text, "computed_at": now}
        if state is None:
            conn.execute(insert(assessment_months).values(month=month, **values))
        else:
            conn.execute(update(assessment_months).where(assessment_months.c.month == month).values(**values))
        return scores_of(conn, month)


def lock(engine: Engine, month: date, by: str, now: datetime) -> dict:
    """Reviewed: the draft as last computed is locked and never changes again."""
    return _move(engine, month, "draft", "locked", by, now)


def publish(engine: Engine, month: date, by: str, now: datetime) -> dict:
    """The locked month is published (月度效能测评通报)."""
    return _move(engine, month, "locked", "published", by, now)


def adjust(engine: Engine, month: date, unit: str, points: float, reason: str, by: str, now: datetime) -> None:
    """A manual adjustment of a draft month's unit (signed points), with its reason; audited."""
    by, reason = (by or "").strip(), (reason or "").strip()
    if not by or not reason:
        raise AssessmentRefused("an adjustment needs the officer's name (--by) and a reason (--reason)")
    if not unit.startswith(("dept:", "center:")) or not unit.split(":", 1)[1]:
        raise AssessmentRefused(f"unit {unit!r} is not dept:<id> or center:<id>")
    if not -100 <= points <= 100 or points == 0:
        raise AssessmentRefused(f"an adjustment is between -100 and 100 points and not 0, not {points}")
    with engine.begin() as conn:
        state = _state(conn, month, lock=True)
        if state is None or state["state"] != "draft":
            shown = state["state"] if state else "not computed yet"
            raise AssessmentRefused(f"{month:%Y-%m} is {shown}: only a draft month is adjusted")
        conn.execute(
            insert(assessment_adjustments).values(
                month=month, unit=unit, points=points, reason=reason, actor=by, at=now
            )
        )
        detail = {"month": f"{month:%Y-%m}", "unit": unit, "points": points, "reason": reason}
        conn.execute(
            insert(audit_log).values(
                at=now, actor=by, action="assessment_adjust", target=unit, detail=detail, remote_addr=None
            )
        )


def month_state(engine: Engine, month: date) -> dict | None:
    with engine.connect() as conn:
        return _state(conn, month)


def scores_of(conn: Connection, month: date) -> list[dict]:
    query = select(assessment_scores).where(assessment_scores.c.month == month)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    return sorted(rows, key=lambda r: (-r["score"], r["unit"]))


def stored_rules(state: dict) -> AssessmentRules:
    return parse_rules(state["rules_text"])


# --- inside -------------------------------------------------------------------------------------


def _state(conn: Connection, month: date, lock: bool = False) -> dict | None:
    query = select(assessment_months).where(assessment_months.c.month == month)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return dict(row) if row else None


def _move(engine: Engine, month: date, before: str, after: str, by: str, now: datetime) -> dict:
    by = (by or "").strip()
    if not by:
        raise AssessmentRefused("this step needs the officer's name (--by)")
    with engine.begin() as conn:
        state = _state(conn, month, lock=True)
        if state is None or state["state"] != before:
            shown = state["state"] if state else "not computed yet"
            raise AssessmentRefused(f"{month:%Y-%m} is {shown}; only a {before} month becomes {after}")
        stamp = {"locked": ("locked_by", "locked_at"), "published": ("published_by", "published_at")}[after]
        conn.execute(
            update(assessment_months)
            .where(assessment_months.c.month == month)
            .values(state=after, **{stamp[0]: by, stamp[1]: now})
        )
        conn.execute(
            insert(audit_log).values(
                at=now,
                actor=by,
                action=f"assessment_{after}",
                target=f"{month:%Y-%m}",
                detail={"rules_version": state["rules_version"]},
                remote_addr=None,
            )
        )
        return _state(conn, month)


def _late(conn: Connection, month: date, tz: tzinfo) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Points late data adds to each locked month before `month`, per unit: (total, by locked month)."""
    earliest = month
    for _ in range(LOOK_BACK_MONTHS):
        earliest = date(earliest.year - (earliest.month == 1), (earliest.month - 2) % 12 + 1, 1)
    closed = conn.execute(
        select(assessment_months).where(
            assessment_months.c.month >= earliest,
            assessment_months.c.month < month,
            assessment_months.c.state != "draft",
        )
    ).mappings()
    total: dict[str, float] = defaultdict(float)
    by_month: dict[str, dict[str, float]] = defaultdict(dict)
    for locked in closed:
        frozen = _frozen(conn, locked["month"], month)
        recount = count_month(conn, locked["month"], tz)
        for unit, points in late_points(parse_rules(locked["rules_text"]), recount, frozen).items():
            total[unit] += points
            by_month[unit][f"{locked['month']:%Y-%m}"] = points
    return dict(total), dict(by_month)


def _frozen(conn: Connection, locked: date, before: date) -> dict[str, float]:
    """A locked month's automatic points per unit as locked, plus what later locked months carried from it."""
    frozen = {
        unit: points
        for unit, points in conn.execute(
            select(assessment_scores.c.unit, assessment_scores.c.deductions).where(assessment_scores.c.month == locked)
        )
    }
    carried = conn.execute(
        select(assessment_scores.c.unit, assessment_scores.c.late_from)
        .join(assessment_months, assessment_months.c.month == assessment_scores.c.month)
        .where(
            assessment_scores.c.month > locked,
            assessment_scores.c.month < before,
            assessment_months.c.state != "draft",
        )
    )
    key = f"{locked:%Y-%m}"
    for unit, late_from in carried:
        if late_from and key in late_from:
            frozen[unit] = frozen.get(unit, 0.0) + late_from[key]
    return frozen


def _adjustments(conn: Connection, month: date) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    query = select(assessment_adjustments.c.unit, assessment_adjustments.c.points).where(
        assessment_adjustments.c.month == month
    )
    for unit, points in conn.execute(query):
        found[unit].append(points)
    return dict(found)


def _center_of(conn: Connection, dept_id: str) -> str | None:
    return conn.execute(select(alarms.c.center_id).where(alarms.c.dept_id == dept_id).limit(1)).scalar()
