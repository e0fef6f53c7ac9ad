"""check_row: every kind of bad row is set aside with a reason a person can read."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from rules.events import (
    KINDS,
    ORPHAN_HOLD,
    Event,
    Rejection,
    check_row,
    duplicate_key,
    fee_charged,
    orphan_expired,
    orphan_rejection,
)

TZ = ZoneInfo("Asia/Shanghai")
ITEMS = {"GX-001", "GX-002"}
T = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)

GOOD = dict(
    case_no="C1",
    kind="accepted",
    occurred_at=T,
    recorded_at=T + timedelta(minutes=1),
    source_system="sys",
    center_id="GX-450100",
    dept_id="D1",
    window_id="W1",
    staff_id="S1",
    item_code=None,
    payload={},
)


def check(**changes):
    row = {**GOOD, **changes}
    return check_row(7, **row, known_items=ITEMS, tz=TZ)


def test_there_are_thirteen_kinds():
    assert len(KINDS) == len(set(KINDS)) == 13


@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(case_no=None), "case_no is NULL"),
        (dict(case_no="  "), "case_no is NULL"),  # blank is as good as NULL
        (dict(case_no=42), "case_no 42 is not text"),
        (dict(kind=None), "kind is NULL"),
        (dict(kind="approved"), "unknown kind 'approved'"),
        (dict(kind="Accepted"), "unknown kind 'Accepted'"),  # kinds are exact
        (dict(occurred_at=None), "occurred_at is NULL"),
        (dict(occurred_at="yesterday"), "occurred_at 'yesterday' is not an ISO-8601 timestamp"),
        (
            dict(occurred_at="2026-03-02"),
            "occurred_at '2026-03-02' is not an ISO-8601 timestamp",
        ),  # a day, not an instant
        (dict(occurred_at=1772415000), "occurred_at 1772415000 is not an ISO-8601 timestamp"),
        (dict(recorded_at="garbage"), "recorded_at 'garbage' is not an ISO-8601 timestamp"),
        # more than 10 minutes after its own recorded_at: a clock in the future
        (
            dict(occurred_at=T + timedelta(minutes=11), recorded_at=T),
            "occurred_at 2026-03-02T09:41:00+08:00 is 11 min after its recorded_at 2026-03-02T09:30:00+08:00 (at most 10 min allowed)",
        ),
        (dict(occurred_at=T + timedelta(days=3), recorded_at=T), "is 3 days after its recorded_at"),
        (dict(payload="[1, 2]"), "payload is a JSON array, not an object"),
        (dict(payload=[1, 2]), "payload is a JSON array, not an object"),
        (dict(payload='"text"'), "payload is a JSON string, not an object"),
        (dict(payload="{not json"), "payload is not valid JSON"),
        (dict(payload=b"\xff\xfe"), "payload is not UTF-8 text"),
        # What PostgreSQL cannot store (an upstream SQLite row can hold it): refused, not crashed on
        (dict(payload='{"n": NaN}'), "payload holds NaN, which is not a JSON number"),
        (dict(payload='{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"), "payload is nested too deeply to read"),
        (dict(payload='{"n": -Infinity}'), "payload holds -Infinity, which is not a JSON number"),
        (dict(payload='{"note": "a\\u0000b"}'), "payload holds a NUL character"),
        (dict(payload={"note": ["a\x00b"]}), "payload holds a NUL character"),
        (dict(case_no="C\x001"), "case_no 'C\\x001' holds a NUL character"),
        (dict(window_id="W\x00"), "window_id 'W\\x00' holds a NUL character"),
        (dict(kind="received", item_code=None), "received without item_code"),
        (dict(kind="received", item_code="GX-999"), "received with unknown item_code 'GX-999'"),
        (dict(kind="rejected", payload={}), "payload lacks required field 'reason' for kind rejected"),
        (dict(kind="rejected", payload=None), "payload lacks required field 'reason' for kind rejected"),
        (
            dict(kind="rejected", payload={"reason": ""}),
            "payload field 'reason' for kind rejected must be a non-empty string, got ''",
        ),
        (
            dict(kind="step_started", payload={"limit_days": 3}),
            "payload lacks required field 'step_id' for kind step_started",
        ),
        (
            dict(kind="step_started", payload={"step_id": "s1"}),
            "payload lacks required field 'limit_days' for kind step_started",
        ),
        (
            dict(kind="step_started", payload={"step_id": "s1", "limit_days": -1}),
            "'limit_days' for kind step_started must be an integer >= 0, got -1",
        ),
        (dict(kind="step_started", payload={"step_id": "s1", "limit_days": "5"}), "must be an integer >= 0, got '5'"),
        (dict(kind="step_started", payload={"step_id": "s1", "limit_days": 2.5}), "must be an integer >= 0, got 2.5"),
        (dict(kind="step_started", payload={"step_id": "s1", "limit_days": True}), "must be an integer >= 0, got True"),
        (
            dict(kind="step_started", payload={"step_id": 3, "limit_days": 2}),
            "'step_id' for kind step_started must be a non-empty string, got 3",
        ),
        (
            dict(kind="step_completed", payload={"step": "s1"}),
            "payload lacks required field 'step_id' for kind step_completed",
        ),
        (
            dict(kind="special_started", payload={"special_id": "h1", "limit_days": 10}),
            "payload lacks required field 'type' for kind special_started",
        ),
        (
            dict(kind="special_started", payload={"special_id": "h1", "type": "hearing"}),
            "lacks required field 'limit_days' for kind special_started",
        ),
        (dict(kind="special_ended", payload={}), "payload lacks required field 'special_id' for kind special_ended"),
        (dict(kind="extended", payload={}), "payload lacks required field 'days' for kind extended"),
        (dict(kind="extended", payload={"days": 0}), "'days' for kind extended must be an integer >= 1, got 0"),
        (dict(kind="extended", payload={"days": None}), "payload lacks required field 'days' for kind extended"),
        (dict(kind="completed", payload={}), "payload lacks required field 'result' for kind completed"),
        (
            dict(kind="completed", payload={"result": "ok"}),
            "'result' for kind completed must be 'approved' or 'denied', got 'ok'",
        ),
        (
            dict(kind="completed", payload={"result": "approved", "fee_charged": "abc"}),
            "'fee_charged' must be a number >= 0, got 'abc'",
        ),
        (
            dict(kind="completed", payload={"result": "approved", "fee_charged": -5}),
            "'fee_charged' must be a number >= 0, got -5",
        ),
    ],
)
def test_bad_rows_are_set_aside_with_a_readable_reason(changes, reason):
    result = check(**changes)
    assert isinstance(result, Rejection), result
    assert result.event_id == 7
    assert reason in result.reason


@pytest.mark.parametrize(
    "changes",
    [
        dict(),
        dict(kind="received", item_code="GX-001", payload={"channel": "online"}),
        dict(kind="received", item_code="GX-001", payload={"channel": "fax"}),  # optional display fields are not judged
        dict(payload=None),  # NULL payload on a kind without required fields: an empty object
        dict(payload="null"),  # JSON null (PostgreSQL drivers return it as None anyway)
        dict(payload="{}"),
        dict(kind="step_started", payload={"step_id": "s1", "limit_days": 0, "level": "city"}),
        dict(kind="special_started", payload='{"special_id": "h1", "type": "hearing", "limit_days": 20}'),
        dict(kind="extended", payload={"days": 10, "approved_by": "局长"}),
        dict(kind="completed", payload={"result": "denied"}),
        dict(kind="completed", payload={"result": "approved", "fee_charged": "12.50"}),
        dict(kind="completed", payload={"result": "approved", "fee_charged": None}),
        # exactly 10 minutes ahead of recorded_at is still allowed
        dict(occurred_at=T + timedelta(minutes=10), recorded_at=T),
        # occurred long before it was recorded: a late row, perfectly usable
        dict(occurred_at=T - timedelta(days=30), recorded_at=T),
        dict(kind="withdrawn", item_code="GX-999"),  # item_code is only checked on received
    ],
)
def test_good_rows_become_events(changes):
    assert isinstance(check(**changes), Event)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2026-03-02T09:30:00+08:00", datetime(2026, 3, 2, 9, 30, tzinfo=TZ)),
        ("2026-03-02T01:30:00Z", datetime(2026, 3, 2, 9, 30, tzinfo=TZ)),  # 'Z' is UTC
        ("2026-03-02 01:30:00+00:00", datetime(2026, 3, 2, 9, 30, tzinfo=TZ)),  # SQLite's space separator
        ("2026-03-02T09:30:00", datetime(2026, 3, 2, 9, 30, tzinfo=TZ)),  # naive text means local time
        (datetime(2026, 3, 2, 9, 30), datetime(2026, 3, 2, 9, 30, tzinfo=TZ)),  # naive datetime too
        (datetime(2026, 3, 2, 1, 30, tzinfo=UTC), datetime(2026, 3, 2, 9, 30, tzinfo=TZ)),
    ],
)
def test_timestamps_are_read_as_instants(raw, expected):
    event = check(occurred_at=raw, recorded_at=raw)
    assert isinstance(event, Event)
    assert event.occurred_at == expected and event.occurred_at.tzinfo is not None


def test_json_text_payload_becomes_a_dict():
    event = check(kind="step_completed", payload='{"step_id": "s1"}')
    assert event.payload == {"step_id": "s1"}


def test_local_date_uses_the_configured_zone():
    event = check(occurred_at="2026-03-01T17:30:00Z", recorded_at="2026-03-01T17:30:00Z")
    assert str(event.local_date(TZ)) == "2026-03-02"  # 01:30 in Beijing the next day


def test_duplicate_key_ignores_payload_key_order_and_the_event_id():
    a = check(kind="step_started", payload='{"step_id": "s1", "limit_days": 3}')
    b = check_row(
        8, **{**GOOD, "kind": "step_started", "payload": {"limit_days": 3, "step_id": "s1"}}, known_items=ITEMS, tz=TZ
    )
    c = check(kind="step_started", payload={"step_id": "s1", "limit_days": 4})
    utc = check(kind="step_started", payload={"step_id": "s1", "limit_days": 3}, occurred_at="2026-03-02T01:30:00Z")
    assert duplicate_key(a) == duplicate_key(b) == duplicate_key(utc)  # the same instant written in UTC
    assert duplicate_key(a) != duplicate_key(c)


def test_orphan_hold():
    event = check()
    assert ORPHAN_HOLD == timedelta(hours=24)
    assert not orphan_expired(event, event.recorded_at + timedelta(hours=23, minutes=59))
    assert orphan_expired(event, event.recorded_at + timedelta(hours=24))
    assert orphan_rejection(event) == Rejection(7, "no 'received' event for case 'C1' within 24 h")


@pytest.mark.parametrize("raw, fee", [(12, "12"), (12.5, "12.5"), ("8.00", "8.00"), (None, None), (True, None)])
def test_fee_charged(raw, fee):
    assert fee_charged({"fee_charged": raw}) == (None if fee is None else Decimal(fee))
