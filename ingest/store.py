"""Where the ingest's results go: the supervision database.

Small functions over a connection that is already in a transaction, so the
caller commits results and cursor together (a crash replays exactly what was
not committed). One code path for SQLite and PostgreSQL: the dialect's own
``INSERT … ON CONFLICT`` does the upserts.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import JSON, Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.tables import alarm_actions, alarms, cases, events, ingest_cursor, quality_log
from ingest.tailer import Cursor
from rules.events import Event, duplicate_key

CHUNK = 900  # stays under SQLite's bound-parameter limit in IN lists


def _insert(conn: Connection, table):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- cursor -------------------------------------------------------------
def load_cursor(conn: Connection, source: str) -> Cursor:
    row = conn.execute(select(ingest_cursor).where(ingest_cursor.c.source == source)).mappings().first()
    return Cursor.from_row(row)


def save_cursor(conn: Connection, source: str, cursor: Cursor, now: datetime) -> None:
    values = cursor.to_row() | {"updated_at": now}
    stmt = _insert(conn, ingest_cursor).values(source=source, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source"], set_=values))


# --- events -------------------------------------------------------------
def dup_key(event: Event) -> str:
    return hashlib.blake2b(json.dumps(duplicate_key(event), default=str).encode(), digest_size=16).hexdigest()


def _event_row(event: Event, held: bool) -> dict:
    return {
        "event_id": event.event_id,
        "case_no": event.case_no,
        "kind": event.kind,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "source_system": event.source_system,
        "center_id": event.center_id,
        "dept_id": event.dept_id,
        "window_id": event.window_id,
        "staff_id": event.staff_id,
        "item_code": event.item_code,
        "payload": event.payload,
        "dup_key": dup_key(event),
        "held": held,
    }


def insert_events(conn: Connection, new_events: Sequence[Event], held_cases: set[str]) -> set[int]:
    """Store `new_events`; returns the ids stored. An exact repeat of an event already
    stored, or earlier in the same batch, is not. (An id is never offered twice: the
    cursor commits with the events.)"""
    by_key: dict[str, dict] = {}
    for event in sorted(new_events, key=lambda e: e.event_id):
        row = _event_row(event, event.case_no in held_cases)
        by_key.setdefault(row["dup_key"], row)
    stored: set[str] = set()
    for part in _chunks(list(by_key)):
        stored.update(conn.execute(select(events.c.dup_key).where(events.c.dup_key.in_(part))).scalars())
    rows = [row for key, row in by_key.items() if key not in stored]
    bulk_insert(conn, events, rows)
    return {row["event_id"] for row in rows}


def bulk_insert(conn: Connection, table, rows: Sequence[dict]) -> None:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), list(rows))
        return
    columns = [c.name for c in table.columns if c.name in rows[0]]
    as_json = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c], ensure_ascii=False) if c in as_json else row[c] for c in columns])


def case_events(conn: Connection, case_nos: Iterable[str]) -> dict[str, list[Event]]:
    """Every stored event of each case, held or not."""
    found: dict[str, list[Event]] = {}
    for part in _chunks(sorted(set(case_nos))):
        for row in conn.execute(select(events).where(events.c.case_no.in_(part))).mappings():
            found.setdefault(row["case_no"], []).append(_event(row))
    return found


def _event(row) -> Event:
    return Event(
        event_id=row["event_id"],
        case_no=row["case_no"],
        kind=row["kind"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        source_system=row["source_system"],
        center_id=row["center_id"],
        dept_id=row["dept_id"],
        window_id=row["window_id"],
        staff_id=row["staff_id"],
        item_code=row["item_code"],
        payload=row["payload"],
    )


def release_held(conn: Connection, case_nos: Iterable[str]) -> None:
    """The case's `received` has arrived: its held events are taken in."""
    for part in _chunks(sorted(set(case_nos))):
        conn.execute(update(events).where(and_(events.c.case_no.in_(part), events.c.held)).values(held=False))


def expired_orphans(conn: Connection, recorded_before: datetime, limit: int = 10_000) -> list[Event]:
    """Held events recorded before `recorded_before`, not yet in the quality log."""
    logged = select(quality_log.c.event_id).where(quality_log.c.source == "case_events")
    query = (
        select(events)
        .where(events.c.held, events.c.recorded_at <= recorded_before, events.c.event_id.not_in(logged))
        .order_by(events.c.event_id)
        .limit(limit)
    )
    return [_event(r) for r in conn.execute(query).mappings()]


def cases_with_received(conn: Connection, case_nos: Iterable[str]) -> set[str]:
    """Which of `case_nos` already have a stored `received` event."""
    found: set[str] = set()
    for part in _chunks(sorted(set(case_nos))):
        query = select(events.c.case_no).where(events.c.case_no.in_(part), events.c.kind == "received").distinct()
        found.update(conn.execute(query).scalars())
    return found


# --- quality log --------------------------------------------------------
def log_quality(conn: Connection, source: str, entries: Iterable[tuple[int, str, dict]], now: datetime) -> int:
    """Set rows aside with a reason a person can read; returns how many were new."""
    rows = [
        {"source": source, "event_id": event_id, "reason": reason, "row": row, "logged_at": now}
        for event_id, reason, row in entries
    ]
    if not rows:
        return 0
    stmt = _insert(conn, quality_log).on_conflict_do_nothing().returning(quality_log.c.id)
    return sum(len(conn.execute(stmt, part).scalars().all()) for part in _chunks(rows, 500))


# --- cases --------------------------------------------------------------
def upsert_cases(conn: Connection, rows: Sequence[dict]) -> None:
    if not rows:
        return
    stmt = _insert(conn, cases)
    columns = [c.name for c in cases.columns if c.name != "case_no"]
    stmt = stmt.on_conflict_do_update(index_elements=["case_no"], set_={c: stmt.excluded[c] for c in columns})
    for part in _chunks(list(rows), 500):
        conn.execute(stmt, part)


# A next_change this far in the past means "judge again at the next chance".
JUDGE_NOW = datetime(1970, 1, 1, tzinfo=timezone.utc)


def mark_for_judgement(conn: Connection, case_nos: set[str], new_cases: Sequence[dict]) -> None:
    """Put `case_nos` at the head of the due index; `new_cases` get a row first."""
    if new_cases:
        rows = [r | {"next_change": JUDGE_NOW} for r in new_cases]
        stmt = _insert(conn, cases)
        conn.execute(stmt.on_conflict_do_update(index_elements=["case_no"], set_={"next_change": JUDGE_NOW}), rows)
    for part in _chunks(sorted(case_nos)):
        conn.execute(update(cases).where(cases.c.case_no.in_(part)).values(next_change=JUDGE_NOW))


def due_cases(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Cases whose judgement changes at or before `now` with no new event: the due-instant index."""
    query = select(cases.c.case_no).where(cases.c.next_change <= now).order_by(cases.c.next_change).limit(limit)
    return list(conn.execute(query).scalars())


# --- alarms -------------------------------------------------------------
def stored_alarms(conn: Connection, case_nos: Iterable[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for part in _chunks(sorted(set(case_nos))):
        for row in conn.execute(select(alarms).where(alarms.c.case_no.in_(part))).mappings():
            found.setdefault(row["case_no"], []).append(dict(row))
    return found


def open_alarm_counts(conn: Connection) -> dict[str, int]:
    query = select(alarms.c.kind, func.count()).where(alarms.c.state != "closed").group_by(alarms.c.kind)
    return {kind: n for kind, n in conn.execute(query)}


def insert_alarms(conn: Connection, rows: Sequence[dict]) -> list[int]:
    """Insert new alarms; their ids in the order given."""
    if not rows:
        return []
    stmt = alarms.insert().returning(alarms.c.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, list(rows)).scalars())


ALARM_MUTABLE = ("state", "closed_reason", "closed_at", "fired_at", "due", "updated_at")


def update_alarms(conn: Connection, rows: Sequence[dict]) -> None:
    """Write the mutable columns of each alarm row (by id), in one executemany."""
    if not rows:
        return
    stmt = (
        update(alarms)
        .where(alarms.c.id == bindparam("alarm_id"))
        .values({c: bindparam(f"new_{c}") for c in ALARM_MUTABLE})
    )
    conn.execute(stmt, [{"alarm_id": r["id"], **{f"new_{c}": r[c] for c in ALARM_MUTABLE}} for r in rows])


def record_actions(conn: Connection, rows: Sequence[dict]) -> None:
    """Append the system's entries to the audit trail (alarm_id, action, at)."""
    bulk_insert(conn, alarm_actions, [r | {"actor": "system", "note": r.get("note", "")} for r in rows])
