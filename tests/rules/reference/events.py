"""Frozen copy of rules/events.py at commit e47c978, before it was optimised: the reference the
optimised code must match exactly (tests/rules/test_differential.py). Do not edit it.

The original docstring follows.

Case events (办件过程信息) as typed values, and the judgement of rows that cannot be used.

`check_row` turns one raw `case_events` row into an `Event`, or into a `Rejection`
with a reason a person can read, for the data-quality log (semantics.md, "Bad input").
It never raises on bad data: no row may stop the ingest.

Raw values come from PostgreSQL (datetime, dict) or SQLite (ISO-8601 text, JSON text).
A timestamp without an offset is read as local time in the configured zone `tz`.
A SQL NULL payload — and JSON `null`, which PostgreSQL drivers hand back as the same
None — counts as an empty object: kinds without required fields accept it, the others
are rejected for the missing field.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

KINDS: tuple[str, ...] = (
    "received",  # 收件
    "correction_notice",  # 一次性补正告知
    "correction_received",  # 补正材料接收
    "accepted",  # 受理
    "rejected",  # 不予受理
    "step_started",  # 审批环节开始
    "step_completed",  # 审批环节结束
    "special_started",  # 特别程序开始 (行政许可法 第45条)
    "special_ended",  # 特别程序结束
    "extended",  # 延期 (第42条)
    "completed",  # 办结
    "delivered",  # 证照送达 (第44条)
    "withdrawn",  # 撤回
)

# How far occurred_at may run ahead of recorded_at (clock skew between systems).
MAX_FUTURE_SKEW = timedelta(minutes=10)

# An event whose case has no `received` yet is held this long, then set aside.
ORPHAN_HOLD = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Event:
    """One usable row of `case_events`; `occurred_at` and `recorded_at` are tz-aware."""

    event_id: int
    case_no: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    source_system: str | None
    center_id: str | None
    dept_id: str | None
    window_id: str | None
    staff_id: str | None
    item_code: str | None
    payload: dict[str, Any]

    def local_date(self, tz: tzinfo) -> date:
        """The local calendar date on which the event happened."""
        return self.occurred_at.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row set aside in the data-quality log, with a reason a person can read."""

    event_id: int
    reason: str


def check_row(
    event_id: int,
    case_no: object,
    kind: object,
    occurred_at: object,
    recorded_at: object,
    source_system: object,
    center_id: object,
    dept_id: object,
    window_id: object,
    staff_id: object,
    item_code: object,
    payload: object,
    *,
    known_items: Container[str],
    tz: tzinfo,
) -> Event | Rejection:
    """Judge one raw `case_events` row: an Event if it can be used, else a Rejection saying why.

    Bad rows (semantics.md, "Bad input"): NULL case_no, kind or occurred_at; an unknown
    kind; a payload that is not a JSON object or lacks a required field (or has one of
    the wrong type); `received` without a known item_code; occurred_at more than 10
    minutes after its own recorded_at.
    """
    try:
        return _check(
            event_id,
            case_no,
            kind,
            occurred_at,
            recorded_at,
            source_system,
            center_id,
            dept_id,
            window_id,
            staff_id,
            item_code,
            payload,
            known_items,
            tz,
        )
    except _Bad as bad:
        return Rejection(event_id, str(bad))


class _Bad(Exception):
    pass


def _check(
    event_id,
    case_no,
    kind,
    occurred_at,
    recorded_at,
    source_system,
    center_id,
    dept_id,
    window_id,
    staff_id,
    item_code,
    payload,
    known_items,
    tz,
) -> Event:
    if case_no is None or (isinstance(case_no, str) and not case_no.strip()):
        raise _Bad("case_no is NULL")
    if not isinstance(case_no, str):
        raise _Bad(f"case_no {case_no!r} is not text")
    if kind is None:
        raise _Bad("kind is NULL")
    if kind not in KINDS:
        raise _Bad(f"unknown kind {kind!r}")
    if occurred_at is None:
        raise _Bad("occurred_at is NULL")
    occurred = _timestamp("occurred_at", occurred_at, tz)
    recorded = _timestamp("recorded_at", recorded_at, tz)
    if occurred - recorded > MAX_FUTURE_SKEW:
        raise _Bad(
            f"occurred_at {occurred.isoformat()} is {_span(occurred - recorded)} after its recorded_at "
            f"{recorded.isoformat()} (at most 10 min allowed)"
        )
    body = _payload(payload)
    _check_fields(kind, body)
    if kind == "received":
        if item_code is None or item_code == "":
            raise _Bad("received without item_code")
        if item_code not in known_items:
            raise _Bad(f"received with unknown item_code {item_code!r}")
    # Positional, and text that is text already passed as is: this runs once per row.
    return Event(
        event_id,
        case_no,
        kind,
        occurred,
        recorded,
        source_system if source_system is None or isinstance(source_system, str) else str(source_system),
        center_id if center_id is None or isinstance(center_id, str) else str(center_id),
        dept_id if dept_id is None or isinstance(dept_id, str) else str(dept_id),
        window_id if window_id is None or isinstance(window_id, str) else str(window_id),
        staff_id if staff_id is None or isinstance(staff_id, str) else str(staff_id),
        item_code if item_code is None or isinstance(item_code, str) else str(item_code),
        body,
    )


def parse_timestamp(value: object, tz: tzinfo) -> datetime | None:
    """A tz-aware datetime from a datetime or ISO-8601 text; naive means local time in `tz`.

    Accepts '2026-03-02T09:30:00+08:00', '2026-03-02 01:30:00Z', '2026-03-02T09:30:00'
    (local). Returns None for anything else.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if len(value.strip()) <= 10:  # a bare date is not an instant
            return None
    else:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def _timestamp(column: str, value: object, tz: tzinfo) -> datetime:
    if value is None:
        raise _Bad(f"{column} is NULL")
    moment = parse_timestamp(value, tz)
    if moment is None:
        raise _Bad(f"{column} {_show(value)} is not an ISO-8601 timestamp")
    return moment


def _payload(payload: object) -> dict[str, Any]:
    if payload is None:
        return {}
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad("payload is not UTF-8 text") from None
    if isinstance(payload, str):
        try:
            # The decoder itself, but json.loads for a BOM, whose error message it words.
            payload = _decode_json(payload) if not payload.startswith("\ufeff") else json.loads(payload)
        except ValueError as exc:
            raise _Bad(f"payload is not valid JSON ({exc.msg} at char {exc.pos}): {_show(payload)}") from None
        if payload is None:
            return {}
    if not isinstance(payload, Mapping):
        raise _Bad(f"payload is a JSON {_json_type(payload)}, not an object")
    return dict(payload)


_decode_json = json.JSONDecoder().decode


# Required payload fields per kind (semantics.md, "Event kinds"), with their checks.
def _nonempty_str(v: object) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _int_at_least(low: int):
    def check(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= low

    return check


REQUIRED: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "rejected": (("reason", "a non-empty string", _nonempty_str),),
    "step_started": (
        ("step_id", "a non-empty string", _nonempty_str),
        ("limit_days", "an integer >= 0", _int_at_least(0)),
    ),
    "step_completed": (("step_id", "a non-empty string", _nonempty_str),),
    "special_started": (
        ("special_id", "a non-empty string", _nonempty_str),
        ("type", "a non-empty string", _nonempty_str),
        ("limit_days", "an integer >= 0", _int_at_least(0)),
    ),
    "special_ended": (("special_id", "a non-empty string", _nonempty_str),),
    "extended": (("days", "an integer >= 1", _int_at_least(1)),),
    "completed": (("result", "'approved' or 'denied'", lambda v: v in ("approved", "denied")),),
}


def _check_fields(kind: str, body: dict[str, Any]) -> None:
    for name, wanted, ok in REQUIRED.get(kind, ()):
        if name not in body or body[name] is None:
            raise _Bad(f"payload lacks required field {name!r} for kind {kind}")
        if not ok(body[name]):
            raise _Bad(f"payload field {name!r} for kind {kind} must be {wanted}, got {_show(body[name])}")
    if kind == "completed" and body.get("fee_charged") is not None and fee_charged(body) is None:
        raise _Bad(f"payload field 'fee_charged' must be a number >= 0, got {_show(body['fee_charged'])}")


def fee_charged(payload: Mapping[str, Any]) -> Decimal | None:
    """The fee of a `completed` payload as a Decimal (a JSON number or numeric text), or None."""
    value = payload.get("fee_charged")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        fee = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return fee if fee.is_finite() and fee >= 0 else None


# Built once: json.dumps with these arguments would build an encoder per call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def duplicate_key(event: Event) -> tuple[str, str, datetime, str]:
    """The identity of an exact repeat: same case, kind, occurred_at and payload (semantics.md)."""
    return (event.case_no, event.kind, event.occurred_at, _CANONICAL_JSON(event.payload))


def orphan_expired(event: Event, now: datetime) -> bool:
    """True once an event whose case has no `received` has been held ORPHAN_HOLD since it was recorded."""
    return now - event.recorded_at >= ORPHAN_HOLD


def orphan_rejection(event: Event) -> Rejection:
    """The data-quality entry for an event whose case never got a `received` within ORPHAN_HOLD."""
    return Rejection(event.event_id, f"no 'received' event for case {event.case_no!r} within 24 h")


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
