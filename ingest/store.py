"""Where the ingest's results go: the supervision database.

Small functions over a connection that is already in a transaction, so the
caller commits results and cursor together (a crash replays exactly what was
not committed). One code path for SQLite and PostgreSQL: each function says
which rows to read or write, and :mod:`ingest.bulk` moves them the dialect's
fastest way. Every function costs a fixed number of statements, however many
rows it handles.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from operator import attrgetter

from sqlalchemy import Connection, Text, and_, cast, exists, func, or_, select, update

from app.base import outbox
from app.base.alarm_stream import AlarmChange, change_from
from app.base.database import insert_for
from app.base.tables import alarm_actions, alarm_outbox, alarms, cases, events, ingest_cursor, quality_log
from ingest import bulk
from ingest.tailer import Cursor
from rules._make import maker
from rules.alarms import AlarmState, Change, ClosedReason, StoredAlarm
from rules.events import Event, duplicate_key

# The ingest's own view of the events table: an Event's fields, in their order. The
# payload comes as its text: decoding it here is cheaper than the driver's JSON loader.
EVENT_FIELDS = (
    events.c.event_id,
    events.c.case_no,
    events.c.kind,
    events.c.occurred_at,
    events.c.recorded_at,
    events.c.source_system,
    events.c.center_id,
    events.c.dept_id,
    events.c.window_id,
    events.c.staff_id,
    events.c.item_code,
    cast(events.c.payload, Text),
)
_decode = json.JSONDecoder().decode
_make_event = maker(Event)  # Event(*fields), built without the frozen __setattr__


def _stored_event(row) -> Event:
    payload = row[11]  # a third of all payloads are empty: no decoder for those
    return _make_event(*row[:11], {} if payload == "{}" else _decode(payload))


def warm(conn: Connection) -> None:
    """Make `conn` ready to judge at once: the stage tables of what judging writes."""
    bulk.prepare_stages(conn, (cases, alarms))


# --- cursor -------------------------------------------------------------
def load_cursor(conn: Connection, source: str) -> Cursor:
    row = conn.execute(select(ingest_cursor).where(ingest_cursor.c.source == source)).mappings().first()
    return Cursor.from_row(row)


def save_cursor(conn: Connection, source: str, cursor: Cursor, now: datetime) -> None:
    values = cursor.to_row() | {"updated_at": now}
    stmt = insert_for(conn, ingest_cursor).values(source=source, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source"], set_=values))


# --- events -------------------------------------------------------------
def dup_key(event: Event) -> str:
    """The stored form of an exact repeat's identity (rules.events.duplicate_key), hashed.

    The hashed text is json.dumps(duplicate_key(event), default=str) with occurred_at in
    UTC, written out here: a JSON list of four strings, each encoded by json's own C
    string encoder. (Keys stored before UTC was used here kept a SQLite exchange's offset,
    so a repeat of such an event is stored once more; judging still counts it once, by
    rules.events.duplicate_key.)
    """
    case_no, kind, occurred_at, payload = duplicate_key(event)
    if occurred_at.utcoffset():
        # One instant, one text, however the exchange wrote it (a SQLite row keeps its offset;
        # PostgreSQL's are all in UTC already, so their keys are what they always were).
        occurred_at = occurred_at.astimezone(UTC)
    text = ", ".join((_string(case_no), _string(kind), _string(str(occurred_at)), _string(payload)))
    return hashlib.blake2b(f"[{text}]".encode(), digest_size=16).hexdigest()


_string = encode_basestring_ascii


_EVENT_COLUMNS = (*(c.name for c in EVENT_FIELDS[:11]), "payload", "dup_key", "held")


def insert_events(
    conn: Connection,
    new_events: Sequence[Event],
    keys: Sequence[str],
    held_cases: set[str],
    payload_texts: Mapping[int, object] | None = None,
) -> list[Event]:
    """Store `new_events`, whose dup_key are `keys`; returns the events stored. An exact
    repeat of an event already stored, or earlier in the same batch, is not. (An id is
    never offered twice: the cursor commits with the events.)

    `payload_texts` are the payloads as the exchange database gave them, by event id:
    a payload the rules accepted is a JSON object, so its text is stored as it came
    instead of being encoded again."""
    by_key: dict[str, Event] = {}
    for key, event in sorted(zip(keys, new_events), key=lambda pair: pair[1].event_id):
        by_key.setdefault(key, event)
    texts = payload_texts or {}
    rows = [
        (*_EVENT_VALUES(e), _payload_text(texts.get(e.event_id), e.payload), key, e.case_no in held_cases)
        for key, e in by_key.items()
    ]
    stored = set(
        bulk.insert_new(conn, events, _EVENT_COLUMNS, rows, unique=("case_no", "dup_key"), returning="event_id")
    )
    return [e for e in by_key.values() if e.event_id in stored]


def _payload_text(text: object, payload: dict) -> object:
    """The payload's own JSON text where it came as text, else the decoded payload."""
    return bulk.JsonText(text) if isinstance(text, str) and payload else payload


_EVENT_VALUES = attrgetter(*(c.name for c in EVENT_FIELDS[:11]))


def case_events(conn: Connection, case_nos: Iterable[str]) -> dict[str, list[Event]]:
    """Every stored event of each case, held or not."""
    found: dict[str, list[Event]] = {}
    query = select(*EVENT_FIELDS).where(bulk.where_one_of(conn, events.c.case_no, set(case_nos)))
    for row in bulk.fetch(conn, query):
        found.setdefault(row[1], []).append(_stored_event(row))
    return found


def events_between(conn: Connection, low: int, high: int) -> list[tuple]:
    """The stored events with low < event_id <= high, as taken in: rows of EVENT_FIELDS (an
    Event's fields in order, the payload as the JSON text stored)."""
    query = select(*EVENT_FIELDS).where(events.c.event_id > low, events.c.event_id <= high)
    return bulk.fetch(conn, query)


def stored_repeats(conn: Connection, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (case_no, dup_key) pairs are stored: an exact repeat of one of them is not taken in again."""
    if not pairs:
        return set()
    query = select(events.c.case_no, events.c.dup_key).where(
        bulk.where_pairs_in(conn, events.c.case_no, events.c.dup_key, pairs)
    )
    return {tuple(row) for row in conn.execute(query)}


def release_held(conn: Connection, case_nos: Iterable[str]) -> None:
    """The case's `received` has arrived: its held events are taken in."""
    case_nos = set(case_nos)
    if case_nos:
        where = and_(events.c.held, bulk.where_one_of(conn, events.c.case_no, case_nos))
        conn.execute(update(events).where(where).values(held=False))


def expired_orphans(conn: Connection, recorded_before: datetime, limit: int = 10_000) -> list[Event]:
    """Held events recorded before `recorded_before`, not yet in the quality log."""
    logged = exists().where(quality_log.c.source == "case_events", quality_log.c.event_id == events.c.event_id)
    query = (
        select(*EVENT_FIELDS)
        .where(events.c.held, events.c.recorded_at <= recorded_before, ~logged)
        .order_by(events.c.event_id)
        .limit(limit)
    )
    return [_stored_event(row) for row in bulk.fetch(conn, query)]


def stored_cases(conn: Connection, case_nos: Iterable[str]) -> dict[str, bool]:
    """Which of `case_nos` already have a stored `received` event, each with whether it
    is at the head of the due index already.

    A case's row is written in the transaction that stores its first `received`
    (see :func:`mark_for_judgement`), so the case table answers by its primary key.
    """
    case_nos = set(case_nos)
    if not case_nos:
        return {}
    query = select(cases.c.case_no, cases.c.next_change).where(bulk.where_one_of(conn, cases.c.case_no, case_nos))
    return {case_no: next_change == JUDGE_NOW for case_no, next_change in bulk.fetch(conn, query)}


# --- quality log --------------------------------------------------------
def raw_row(columns: Sequence[str], row: Sequence) -> dict:
    """A set-aside row as JSON, every value kept as text so nothing is lost or refused.

    A NUL character, which an upstream SQLite row may hold and PostgreSQL cannot
    store in text or JSON, is written as the six characters \\u0000 instead."""
    return {name: _as_text(value) for name, value in zip(columns, row)}


def _as_text(value: object) -> object:
    if value is None or isinstance(value, int):
        return value
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "\\u0000") if "\x00" in text else text


def log_quality(conn: Connection, source: str, entries: Iterable[tuple[int, str, dict]], now: datetime) -> int:
    """Set rows aside with a reason a person can read; returns how many were new."""
    rows = [
        {"source": source, "event_id": event_id, "reason": reason, "row": row, "logged_at": now}
        for event_id, reason, row in entries
    ]
    if not rows:
        return 0
    stmt = insert_for(conn, quality_log).on_conflict_do_nothing().returning(quality_log.c.id)
    return len(conn.execute(stmt, rows).scalars().all())


# --- cases --------------------------------------------------------------
CASE_COLUMNS = tuple(c.name for c in cases.columns)


def upsert_cases(conn: Connection, rows: Sequence[dict]) -> None:
    """Write judged cases: the columns the rows carry, and no other (a column the
    judgement does not own keeps its value)."""
    if rows:
        bulk.upsert(conn, cases, rows, key="case_no", update=[c for c in rows[0] if c != "case_no"])


# A next_change this far in the past means "judge again at the next chance".
JUDGE_NOW = datetime(1970, 1, 1, tzinfo=UTC)
# And these far ahead, "set aside": out of every clock's way, the case keeps its stored judgement
# and alarms until an event touches it (mark_for_judgement), or, waiting for its item, until the
# item is usable again (Ingest.load_items). Far from 9999, so that any zone can show them.
SET_ASIDE = datetime(9000, 1, 1, tzinfo=UTC)
WAITING_FOR_ITEM = datetime(9000, 1, 2, tzinfo=UTC)


def mark_for_judgement(conn: Connection, case_nos: set[str], new_cases: Sequence[dict]) -> None:
    """Put `case_nos` at the head of the due index; `new_cases` get a row first."""
    # Only the columns a placeholder knows: every other one is NULL until the case is judged.
    placeholders = [_CASE_DEFAULTS | row | {"next_change": JUDGE_NOW} for row in new_cases]
    bulk.upsert(conn, cases, placeholders, key="case_no", update=["next_change"])
    rest = case_nos - {r["case_no"] for r in placeholders}
    if rest:
        # A case already at the head of the index is not rewritten (most of a backfill's).
        not_yet = or_(cases.c.next_change.is_(None), cases.c.next_change > JUDGE_NOW)
        where = and_(bulk.where_one_of(conn, cases.c.case_no, rest), not_yet)
        conn.execute(update(cases).where(where).values(next_change=JUDGE_NOW))


_CASE_DEFAULTS = {"deemed_accepted": False, "paused_days": 0, "extension_days": 0, "corrections": 0}


def clear_due(conn: Connection, case_nos: Sequence[str]) -> None:
    """Take `case_nos` out of the due index until an event touches them again."""
    conn.execute(update(cases).where(bulk.where_one_of(conn, cases.c.case_no, case_nos)).values(next_change=None))


def set_aside(conn: Connection, case_nos: Iterable[str], until: datetime) -> None:
    """Take `case_nos` out of the due index, `until` (SET_ASIDE or WAITING_FOR_ITEM) saying what they wait for."""
    case_nos = set(case_nos)
    if case_nos:
        conn.execute(update(cases).where(bulk.where_one_of(conn, cases.c.case_no, case_nos)).values(next_change=until))


def waiting_for_items(conn: Connection) -> dict[str, str]:
    """The cases set aside until their item is usable: case_no -> item_code."""
    query = select(cases.c.case_no, cases.c.item_code).where(cases.c.next_change == WAITING_FOR_ITEM)
    return dict(conn.execute(query).all())


def judge_again(conn: Connection, case_nos: Iterable[str]) -> None:
    """Put `case_nos` at the head of the due index, whatever they waited for."""
    case_nos = set(case_nos)
    if case_nos:
        conn.execute(
            update(cases).where(bulk.where_one_of(conn, cases.c.case_no, case_nos)).values(next_change=JUDGE_NOW)
        )


def due_cases(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Cases whose judgement changes at or before `now` with no new event: the due-instant index."""
    query = select(cases.c.case_no).where(cases.c.next_change <= now).order_by(cases.c.next_change).limit(limit)
    return [case_no for (case_no,) in bulk.fetch(conn, query)]


def due_count(conn: Connection, now: datetime) -> int:
    """How many cases are due at or before `now` (for progress on a long backlog)."""
    return conn.execute(select(func.count()).where(cases.c.next_change <= now)).scalar_one()


def next_due(conn: Connection) -> datetime | None:
    """The earliest instant at which some case's judgement changes with no new event."""
    return conn.execute(select(func.min(cases.c.next_change))).scalar()


# --- alarms -------------------------------------------------------------
def stored_alarms(conn: Connection, case_nos: Iterable[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    query = select(alarms).where(bulk.where_one_of(conn, alarms.c.case_no, set(case_nos)))
    for row in conn.execute(query).mappings():
        found.setdefault(row["case_no"], []).append(dict(row))
    return found


def open_alarm_counts(conn: Connection) -> dict[str, int]:
    query = (
        select(alarms.c.kind, func.count()).where(alarms.c.state.in_(("open", "acknowledged"))).group_by(alarms.c.kind)
    )
    return {kind: n for kind, n in conn.execute(query)}


def insert_alarms(conn: Connection, rows: Sequence[dict]) -> list[int]:
    """Insert new alarms; their ids in the order given."""
    return bulk.insert_returning_ids(conn, alarms, rows)


ALARM_MUTABLE = ("state", "closed_reason", "closed_at", "fired_at", "due", "updated_at")


def update_alarms(conn: Connection, rows: Sequence[dict]) -> None:
    """Write the mutable columns of each alarm row (by id)."""
    bulk.update(conn, alarms, [{"id": r["id"], **{c: r[c] for c in ALARM_MUTABLE}} for r in rows], key="id")


def record_actions(conn: Connection, rows: Sequence[dict]) -> None:
    """Append the system's entries to the audit trail (alarm_id, action, at)."""
    bulk.insert(conn, alarm_actions, [r | {"actor": "system", "note": r.get("note", "")} for r in rows])


def enqueue(conn: Connection, changes: Sequence[AlarmChange]) -> None:
    """Put the alarm changes in the outbox (app/base/outbox.py), in order, in this transaction."""
    bulk.insert_rows(conn, alarm_outbox, outbox.OUTBOX_COLUMNS, outbox.rows(changes))


# --- alarm changes ------------------------------------------------------
# Shared by everything that reconciles alarms: case judging, ratings, camera outages.
def stored_alarm(row: dict) -> StoredAlarm:
    """A stored alarm row as rules.alarms.reconcile reads it."""
    reason = ClosedReason(row["closed_reason"]) if row["closed_reason"] else None
    return StoredAlarm(
        row["kind"],
        row["case_no"],
        row["subject"],
        AlarmState(row["state"]),
        reason,
        row["fired_at"],
        row["due"],
        row["closed_at"],
    )


def apply_changes(conn: Connection, changes: list[Change], rows: dict[tuple, dict], now: datetime) -> list[AlarmChange]:
    """Persist reconcile changes in four statements (new alarms, updates, audit entries, the
    outbox of the alarm stream) and return the messages, each with the alarm as it stood after it.

    The changes are folded into the rows in memory first, so an alarm that fires
    and closes in one judgement is inserted as it ends up, not inserted then updated."""
    new: dict[tuple, dict] = {}
    touched: dict[tuple, dict] = {}
    done: list[tuple[dict, str, datetime, dict]] = []
    for change in changes:
        key = (change.kind, change.case_no, change.subject)
        if change.action == "fired":
            row = rows[key] = new[key] = _new_alarm(change.fact, now)
            action = "fired"
        else:
            row = rows[key]
            action = _fold(row, change, now)
            if key not in new:
                touched[key] = row
        done.append((row, action, change.at, {c: row[c] for c in _MESSAGE_STATE}))
    for row, alarm_id in zip(new.values(), insert_alarms(conn, list(new.values()))):
        row["id"] = alarm_id
    update_alarms(conn, list(touched.values()))
    record_actions(conn, [{"alarm_id": row["id"], "action": action, "at": at} for row, action, at, _ in done])
    messages = [change_from(row | state, action, "system", at) for row, action, at, state in done]
    enqueue(conn, messages)  # the alarm stream's outbox: published by the relay once this commits
    return messages


# What a message shows of an alarm as it stood right after the change.
_MESSAGE_STATE = ("state", "closed_reason", "fired_at")


def _new_alarm(fact, now: datetime) -> dict:
    return {
        "kind": fact.kind,
        "level": str(fact.level),
        "case_no": fact.case_no,
        "subject": fact.subject,
        "center_id": fact.center_id,
        "dept_id": fact.dept_id,
        "window_id": fact.window_id,
        "staff_id": fact.staff_id,
        "camera_id": fact.camera_id,
        "fired_at": fact.fired_at,
        "due": fact.due,
        "state": "open",
        "closed_reason": None,
        "closed_at": None,
        "updated_at": now,
    }


def _fold(row: dict, change: Change, now: datetime) -> str:
    """Apply one change to the alarm's row in memory; returns the audit action's name."""
    fact = change.fact
    if change.action == "fired":
        return "fired"
    row["updated_at"] = now
    if change.action == "closed":
        row.update(state="closed", closed_reason=str(change.closed_reason), closed_at=change.at)
        return str(change.closed_reason)
    row.update(fired_at=fact.fired_at, due=fact.due)
    if change.action == "reopened":
        row.update(state="open", closed_reason=None, closed_at=None)
    return change.action  # reopened, or updated: late data moved its instant or due date


def chunks(values: Sequence, size: int) -> list:
    """`values` in consecutive slices of at most `size` (statements bound their parameters)."""
    return [values[i : i + size] for i in range(0, len(values), size)]
