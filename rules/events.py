"""Case events (办件过程信息) as typed values, and the judgement of rows that cannot be used.

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
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from rules._make import maker

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
# The years an instant of a case may fall in. Far wider than any case, and far enough from
# 9999 (the last year Python holds) that no limit, however long, can carry a date past it.
FIRST_YEAR, LAST_YEAR = 1970, 2199
# The longest time limit, extension or special procedure a row may state, in days: ten years.
# More is a typing slip (a date in a day count: 20261125), never a limit an agency sets.
MAX_DAYS = 3650
# The largest fee a completion may state: what the catalogue's fee column (NUMERIC(12, 2)) holds.
MAX_FEE = Decimal("9999999999.99")
# The longest id or code (case_no, center_id, …, step_id, special_id), in characters. Ids are
# keys of indexes, and a database refuses an index entry of a few kB: one longer id in a batch
# would stop the ingest. The longest real one is a few dozen characters.
MAX_ID_CHARS = 200
_NUL = "\x00"  # text PostgreSQL cannot store: a row holding it is set aside

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


_new_event = maker(Event)


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
    the wrong type, or beyond its bounds: MAX_DAYS, MAX_FEE); `received` without a known
    item_code; occurred_at more than 10 minutes after its own recorded_at; an instant
    outside the years FIRST_YEAR..LAST_YEAR.
    """
    # The usual row (PostgreSQL: aware instants, text or NULL columns, the payload NULL or the
    # JSON text of an object) is judged here in one go; any doubt, and the row takes the full
    # path below, which says why. (`kind` is one of KINDS here, so it holds no NUL.)
    if (
        type(occurred_at) is datetime
        and type(recorded_at) is datetime
        and type(case_no) is str
        and type(kind) is str
        and kind in _FIELD_CHECKS
        and type(occurred_at.tzinfo) in _OFFSET_ALWAYS
        and type(recorded_at.tzinfo) in _OFFSET_ALWAYS
        and case_no.strip()
        and _NUL not in case_no
        and len(case_no) <= MAX_ID_CHARS
        and occurred_at - recorded_at <= MAX_FUTURE_SKEW
        and FIRST_YEAR <= occurred_at.year <= LAST_YEAR
        and FIRST_YEAR <= recorded_at.year <= LAST_YEAR
        and (
            source_system is None
            or type(source_system) is str
            and _NUL not in source_system
            and len(source_system) <= MAX_ID_CHARS
        )
        and (center_id is None or type(center_id) is str and _NUL not in center_id and len(center_id) <= MAX_ID_CHARS)
        and (dept_id is None or type(dept_id) is str and _NUL not in dept_id and len(dept_id) <= MAX_ID_CHARS)
        and (window_id is None or type(window_id) is str and _NUL not in window_id and len(window_id) <= MAX_ID_CHARS)
        and (staff_id is None or type(staff_id) is str and _NUL not in staff_id and len(staff_id) <= MAX_ID_CHARS)
        and (item_code is None or type(item_code) is str and _NUL not in item_code and len(item_code) <= MAX_ID_CHARS)
    ):
        body = None
        if type(payload) is str:
            if "\\u" not in payload or _SUSPECT_ESCAPE.search(payload) is None:  # else the full path looks
                try:
                    body, end = _scan_json(payload, 0)
                except (ValueError, StopIteration, RecursionError):
                    end = -1
                if end != len(payload):
                    body = None
        elif payload is None:
            body = {}
        if (
            type(body) is dict
            and _FIELD_CHECKS[kind](body)
            and (kind != "received" or (item_code and item_code in known_items))
        ):
            # text columns are text or NULL already: as the full path would pass them
            return _new_event(
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
                body,
            )
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
        raise _Bad(f"case_no {_show(case_no)} is not {'UTF-8 ' if _not_utf8(case_no) else ''}text")
    for column, value in (
        ("case_no", case_no),
        ("kind", kind),
        ("source_system", source_system),
        ("center_id", center_id),
        ("dept_id", dept_id),
        ("window_id", window_id),
        ("staff_id", staff_id),
        ("item_code", item_code),
    ):
        if isinstance(value, str) and _NUL in value:
            raise _Bad(f"{column} {_show(value)} holds a NUL character, which cannot be stored")
        if _not_utf8(value):  # what a reader hands on for text that is not UTF-8
            raise _Bad(f"{column} {_show(value)} is not UTF-8 text")
        if _too_long(value):
            raise _Bad(
                f"{column} {_show(value)} is {len(value):,} characters long, longer than any id or code "
                f"may be (at most {MAX_ID_CHARS})"
            )
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
    for column, moment in (("occurred_at", occurred), ("recorded_at", recorded)):
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            raise _Bad(
                f"{column} {moment.isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR} a case can fall in"
            )
    body = _payload(payload)
    _check_fields(kind, body)
    if kind == "received":
        if item_code is None or item_code == "":
            raise _Bad("received without item_code")
        if item_code not in known_items:
            raise _Bad(f"received with unknown item_code {item_code!r}")
    # Positional, and text that is text already passed as is: this runs once per row.
    return _new_event(
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


def _not_utf8(value: object) -> bool:
    if not isinstance(value, (bytes, bytearray)):
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


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
        text = payload
        try:
            # The decoder itself, but json.loads for a BOM, whose error message it words.
            payload = _decode_json(payload) if not payload.startswith("\ufeff") else json.loads(payload)
        except _NotJsonNumber as exc:
            raise _Bad(f"payload holds {exc}, which is not a JSON number: {_show(text)}") from None
        except json.JSONDecodeError as exc:
            raise _Bad(f"payload is not valid JSON ({exc.msg} at char {exc.pos}): {_show(payload)}") from None
        except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
            raise _Bad(f"payload holds a number too long to read, which no count or fee is: {_show(text)}") from None
        except RecursionError:
            raise _Bad(f"payload is nested too deeply to read: {_show(text)}") from None
        if payload is None:
            return {}
        if "\\u0000" in text and _holds_nul(payload):
            raise _Bad(f"payload holds a NUL character (\\u0000), which cannot be stored: {_show(text)}")
        if "\\u" in text and _holds_surrogate(payload):
            raise _Bad(
                f"payload holds a lone surrogate (\\ud800-\\udfff), which is no character and cannot be "
                f"stored: {_show(text)}"
            )
    elif _holds_nul(payload):
        raise _Bad("payload holds a NUL character, which cannot be stored")
    elif _holds_surrogate(payload):
        raise _Bad("payload holds a lone surrogate (\\ud800-\\udfff), which is no character and cannot be stored")
    if not isinstance(payload, Mapping):
        raise _Bad(f"payload is a JSON {_json_type(payload)}, not an object")
    return dict(payload)


def _holds_nul(value: object) -> bool:
    """Whether a NUL character is in any key or text of a decoded JSON value."""
    return _holds(value, lambda text: _NUL in text)


def _holds_surrogate(value: object) -> bool:
    """Whether a lone UTF-16 surrogate (JSON text may escape one: "\\ud800") is in any key or text."""
    return _holds(value, lambda text: not text.isascii() and _SURROGATE.search(text) is not None)


def _holds(value: object, bad) -> bool:
    if isinstance(value, str):
        return bad(value)
    if isinstance(value, Mapping):
        return any(_holds(k, bad) or _holds(v, bad) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds(v, bad) for v in value)
    return False


# In JSON text, an escape that may decode to what cannot be stored: NUL, or a UTF-16 surrogate
# (a lone one is no character; a pair is, and the full path finds it so).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotJsonNumber(ValueError):
    """NaN or Infinity: Python's json reads them, but they are not JSON (RFC 8259), and a
    database that checks its JSON (PostgreSQL's jsonb) refuses them."""


def _refuse_constant(name: str) -> float:
    raise _NotJsonNumber(name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_decode_json = _DECODER.decode
# The decoder's scanner without the whitespace around: what `decode` returns for text that
# starts with the value and ends with it (anything else is left to `decode`).
_scan_json = _DECODER.scan_once
# tzinfo types whose utcoffset() is never None: an instant with one is aware as it is.
_OFFSET_ALWAYS = frozenset({timezone, ZoneInfo})


# Required payload fields per kind (semantics.md, "Event kinds"), with their checks.
def _nonempty_str(v: object) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _days_from(low: int):
    """A count of days: an integer from `low` to MAX_DAYS."""

    def check(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= MAX_DAYS

    return check


def _too_many_days(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > MAX_DAYS


def _too_long(v: object) -> bool:
    return isinstance(v, (str, bytes, bytearray)) and len(v) > MAX_ID_CHARS


def _id_text(v: object) -> bool:
    """An id in a payload (step_id, special_id): a non-empty string no longer than MAX_ID_CHARS."""
    return isinstance(v, str) and v.strip() != "" and len(v) <= MAX_ID_CHARS


REQUIRED: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "rejected": (("reason", "a non-empty string", _nonempty_str),),
    "step_started": (
        ("step_id", "a non-empty string", _id_text),
        ("limit_days", "an integer >= 0", _days_from(0)),
    ),
    "step_completed": (("step_id", "a non-empty string", _id_text),),
    "special_started": (
        ("special_id", "a non-empty string", _id_text),
        ("type", "a non-empty string", _nonempty_str),
        ("limit_days", "an integer >= 0", _days_from(0)),
    ),
    "special_ended": (("special_id", "a non-empty string", _id_text),),
    "extended": (("days", "an integer >= 1", _days_from(1)),),
    "completed": (("result", "'approved' or 'denied'", lambda v: v in ("approved", "denied")),),
}


def _fields_fine(kind: str):
    """For the fast path: True if `body` has every required field of `kind`, each of the right type."""
    required = tuple((name, ok) for name, _, ok in REQUIRED.get(kind, ()))

    def fine(body: dict[str, Any]) -> bool:
        for name, ok in required:
            value = body.get(name)
            if value is None or not ok(value):
                return False
        if kind == "completed":
            fee = body.get("fee_charged")
            # a JSON integer in bounds is a fine fee; anything else is asked the way _check_fields asks
            return fee is None or (type(fee) is int and 0 <= fee <= _MAX_WHOLE_FEE) or _fee_in_bounds(body)
        return True

    return fine


def _nothing_required(body: dict[str, Any]) -> bool:
    return True


_FIELD_CHECKS = {kind: _fields_fine(kind) if kind in REQUIRED else _nothing_required for kind in KINDS}


_MAX_WHOLE_FEE = int(MAX_FEE)


def _fee_in_bounds(body: dict[str, Any]) -> bool:
    fee = fee_charged(body)
    return fee is not None and fee <= MAX_FEE


def _check_fields(kind: str, body: dict[str, Any]) -> None:
    for name, wanted, ok in REQUIRED.get(kind, ()):
        if name not in body or body[name] is None:
            raise _Bad(f"payload lacks required field {name!r} for kind {kind}")
        if not ok(body[name]):
            if isinstance(body[name], str) and _too_long(body[name]):
                raise _Bad(
                    f"payload field {name!r} for kind {kind} is {len(body[name]):,} characters long, longer "
                    f"than any id may be (at most {MAX_ID_CHARS}): {_show(body[name])}"
                )
            if _too_many_days(body[name]):
                raise _Bad(
                    f"payload field {name!r} for kind {kind} is {_show(body[name])} days, more than the "
                    f"{MAX_DAYS} (ten years) any time limit may be"
                )
            raise _Bad(f"payload field {name!r} for kind {kind} must be {wanted}, got {_show(body[name])}")
    if kind == "completed" and body.get("fee_charged") is not None:
        fee = fee_charged(body)
        if fee is None:
            raise _Bad(f"payload field 'fee_charged' must be a number >= 0, got {_show(body['fee_charged'])}")
        if fee > MAX_FEE:
            raise _Bad(
                f"payload field 'fee_charged' is {_show(body['fee_charged'])} yuan, more than any fee "
                f"may be (at most {MAX_FEE:,} yuan, what the catalogue's fee column holds)"
            )


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
    payload = event.payload
    return (event.case_no, event.kind, event.occurred_at, _CANONICAL_JSON(payload) if payload else "{}")


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
