"""Cases (办件) as the case page shows them: search, one case, its events and evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine, insert, or_, select

from app.base.tables import cases, events, evidence, is_row_id
from app.case_view import ClockView, read_clocks
from app.queries import alarms as alarm_queries
from app.queries.reference import Reference
from app.scope import Scope
from app.sms.phones import mask_phone

SEARCH_LIMIT = 50
_SUMMARY = (
    cases.c.case_no,
    cases.c.item_code,
    cases.c.center_id,
    cases.c.dept_id,
    cases.c.window_id,
    cases.c.status,
    cases.c.received_at,
    cases.c.promise_due,
    cases.c.completed_at,
)


def search(engine: Engine, scope: Scope, text: str, reference: Reference, limit: int = SEARCH_LIMIT) -> list[dict]:
    """Cases in `scope` matching a case number, an item, a department, a window, or a phone's last 4 digits."""
    text = (text or "").strip()
    if not text:
        return []
    conditions = [cases.c.case_no == text, cases.c.case_no.like(_escape(text) + "%", escape="\\")]
    if re.fullmatch(r"\d{4}", text):
        conditions.append(cases.c.applicant_phone.like("%" + text))
    lowered = text.lower()
    items = [i.item_code for i in reference.items.values() if lowered in i.name.lower() or i.item_code == text]
    depts = [d.dept_id for d in reference.departments.values() if lowered in d.name.lower() or d.dept_id == text]
    windows = [w.window_id for w in reference.windows.values() if w.label.lower() == lowered or w.window_id == text]
    if items:
        conditions.append(cases.c.item_code.in_(items[:500]))
    if depts:
        conditions.append(cases.c.dept_id.in_(depts[:500]))
    if windows:
        conditions.append(cases.c.window_id.in_(windows[:500]))
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(*_SUMMARY)
                .where(or_(*conditions), scope.where(cases.c.center_id, cases.c.dept_id))
                .order_by(cases.c.received_at.desc())
                .limit(limit)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def case(engine: Engine, scope: Scope, case_no: str) -> dict | None:
    """One case, or None when it does not exist or lies outside `scope` (the two look the same)."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(cases).where(cases.c.case_no == case_no, scope.where(cases.c.center_id, cases.c.dept_id))
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


@dataclass(frozen=True)
class CasePage:
    """What the case page shows of one case, all read within one user's scope."""

    case: dict  # the case row, its applicant's phone masked (:func:`masked`)
    events: list[dict]
    clocks: list[ClockView]
    alarms: list[dict]  # closed ones too: history is evidence
    actions: list[dict]  # officers' and the system's actions on those alarms
    evidence: list[dict]


def masked(case_row: dict) -> dict:
    """The case row as a page may show it: the applicant's phone masked, 138****1234."""
    return {**case_row, "applicant_phone": mask_phone(case_row.get("applicant_phone"))}


def case_page(engine: Engine, scope: Scope, case_no: str) -> CasePage | None:
    """The case page's view of a case, or None when it does not exist or lies outside `scope`."""
    row = case(engine, scope, case_no)
    if row is None:
        return None
    alarm_rows = alarm_queries.for_case(engine, scope, case_no)
    return CasePage(
        case=masked(row),
        events=case_events(engine, scope, case_no),
        clocks=read_clocks(row),
        alarms=alarm_rows,
        actions=alarm_queries.actions(engine, scope, [a["id"] for a in alarm_rows]),
        evidence=case_evidence(engine, scope, case_no),
    )


def case_events(engine: Engine, scope: Scope, case_no: str) -> list[dict]:
    """The events taken in for a case in `scope`, in the order they happened."""
    visible = select(cases.c.case_no).where(cases.c.case_no == case_no, scope.where(cases.c.center_id, cases.c.dept_id))
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(
                    events.c.event_id,
                    events.c.kind,
                    events.c.occurred_at,
                    events.c.dept_id,
                    events.c.window_id,
                    events.c.staff_id,
                    events.c.payload,
                )
                .where(events.c.case_no.in_(visible), events.c.held.is_(False))
                .order_by(events.c.occurred_at, events.c.event_id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def case_evidence(engine: Engine, scope: Scope, case_no: str) -> list[dict]:
    visible = select(cases.c.case_no).where(cases.c.case_no == case_no, scope.where(cases.c.center_id, cases.c.dept_id))
    with engine.connect() as conn:
        rows = (
            conn.execute(select(evidence).where(evidence.c.case_no.in_(visible)).order_by(evidence.c.captured_at))
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def evidence_item(engine: Engine, scope: Scope, reference: Reference, evidence_id: int) -> dict | None:
    """One evidence still, if its case (or, for a camera still, its camera) lies in `scope`."""
    if not is_row_id(evidence_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(evidence).where(evidence.c.id == evidence_id)).mappings().first()
    if row is None:
        return None
    if row["case_no"]:
        return dict(row) if case(engine, scope, row["case_no"]) else None
    return dict(row) if scope.allows_camera(reference, row["camera_id"]) else None


def add_evidence(engine: Engine, row: dict) -> int:
    """Record a still an officer asked for (the files are already written by the camera worker)."""
    with engine.begin() as conn:
        return conn.execute(insert(evidence).values(**row).returning(evidence.c.id)).scalar_one()
