"""A simulated week on SQLite, read back through ingest.exchange's tables as the ingest would.

The week of 2026-10-06: Tuesday and Wednesday are National Day holidays,
Saturday 10 October is an official make-up working day (调休上班日), Sunday
is off. Everything below is checked on the database, not on the simulator's
own bookkeeping.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.base import exchange
from app.base.exchange import Unparsed
from app.simulate.backfill import backfill
from app.simulate.faults import REQUIRED
from app.simulate.feed import Feed
from app.simulate.region import build_region
from app.simulate.summary import KINDS
from app.simulate.writer import write_reference
from rules.calendar import WorkCalendar

ZONE = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 10, 6), date(2026, 10, 12)
SCALE = 0.12
TEN_MINUTES = timedelta(minutes=10)


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('week') / 'exchange.db'}"
    engine = exchange.exchange_engine(url)
    exchange.create_exchange_schema(engine)
    region = build_region(3, "rtsp://u:p@127.0.0.1:8554/cam{n}")
    write_reference(engine, region)
    feed = Feed(region, WorkCalendar(), ZONE, seed=3, first_day=FIRST, scale=SCALE)
    end = int(datetime.combine(LAST + timedelta(days=1), datetime.min.time(), ZONE).timestamp())
    tally = backfill(engine, feed, end, quiet=True)
    with engine.connect() as conn:
        events = conn.execute(select(exchange.case_events).order_by(exchange.case_events.c.event_id)).all()
        ratings = conn.execute(select(exchange.onsite_ratings)).all()
        item_codes = set(conn.execute(select(exchange.items.c.item_code)).scalars())
    yield events, ratings, item_codes, tally
    engine.dispose()


def _bad_kinds(events, item_codes) -> Counter:
    """semantics.md "Bad input", applied independently of the simulator."""
    found = Counter()
    received = {e.case_no for e in events if e.kind == "received"}
    seen = set()
    for e in events:
        if e.case_no is None:
            found["null_case_no"] += 1
        elif e.kind is None:
            found["null_kind"] += 1
        elif e.occurred_at is None:
            found["null_occurred_at"] += 1
        elif isinstance(e.occurred_at, Unparsed):
            found["unparseable_occurred_at"] += 1
        elif e.kind not in KINDS:
            found["unknown_kind"] += 1
        elif e.payload is not None and not isinstance(e.payload, dict):
            found["payload_not_object"] += 1
        elif e.kind in REQUIRED and not all(f in (e.payload or {}) for f in REQUIRED[e.kind]):
            found["payload_missing_field"] += 1
        elif e.kind == "received" and e.item_code not in item_codes:
            found["unknown_item_code"] += 1
        elif e.occurred_at > e.recorded_at + TEN_MINUTES:
            found["occurred_after_recorded"] += 1
        else:
            key = (e.case_no, e.kind, e.occurred_at, json.dumps(e.payload, sort_keys=True))
            if key in seen:
                found["duplicate"] += 1
            elif e.case_no not in received:
                found["orphan"] += 1
            seen.add(key)
    return found


def test_every_event_kind_is_there(week):
    events, *_ = week
    kinds = Counter(e.kind for e in events)
    assert set(KINDS) <= set(kinds), set(KINDS) - set(kinds)
    assert kinds["received"] > 10_000


def test_every_kind_of_bad_row_is_there_and_rare(week):
    events, _, item_codes, tally = week
    found = _bad_kinds(events, item_codes)
    kinds = {
        "null_case_no",
        "null_kind",
        "null_occurred_at",
        "unparseable_occurred_at",
        "unknown_kind",
        "payload_not_object",
        "payload_missing_field",
        "unknown_item_code",
        "occurred_after_recorded",
        "duplicate",
        "orphan",
    }
    assert kinds <= set(found), kinds - set(found)
    assert sum(found.values()) < 0.02 * len(events)
    assert set(tally.bad) == kinds  # the simulator's own count names the same kinds


def test_payloads_that_are_not_json_at_all_read_as_unparsed(week):
    events, *_ = week
    assert any(isinstance(e.payload, Unparsed) for e in events)
    assert any(isinstance(e.payload, list) for e in events)


def test_late_rows_arrive_out_of_event_time_order(week):
    events, *_ = week
    timed = [e for e in events if isinstance(e.occurred_at, datetime)]
    late = [e for e in timed if e.recorded_at - e.occurred_at > TEN_MINUTES]
    assert 0.02 * len(timed) < len(late) < 0.4 * len(timed)
    nightly = [e for e in late if e.recorded_at.astimezone(ZONE).hour < 6]
    assert nightly, "some systems push nightly batches"
    inversions = sum(1 for a, b in zip(timed, timed[1:]) if b.occurred_at < a.occurred_at - TEN_MINUTES)
    assert inversions > 100  # event_id order is arrival order, not event-time order


def test_cases_come_on_working_days_at_office_hours(week):
    events, *_ = week
    calendar = WorkCalendar()
    received = [
        e
        for e in events
        if e.kind == "received" and isinstance(e.occurred_at, datetime) and e.occurred_at <= e.recorded_at + TEN_MINUTES
    ]
    local = [(e, e.occurred_at.astimezone(ZONE)) for e in received]
    on_working_days = sum(1 for _, t in local if calendar.is_working_day(t.date()))
    assert on_working_days > 0.97 * len(received)
    # at windows only on working days, within opening hours; the make-up Saturday is a working day
    at_windows = [t for e, t in local if e.window_id]
    assert all(calendar.is_working_day(t.date()) and 8 <= t.hour < 18 for t in at_windows)
    per_day = Counter(t.date() for t in at_windows)
    assert per_day[date(2026, 10, 10)] > 0.5 * per_day[date(2026, 10, 9)]
    assert per_day[date(2026, 10, 7)] == per_day[date(2026, 10, 11)] == 0  # holiday, Sunday


def test_applicants_phones_and_channels(week):
    events, *_ = week
    payloads = [e.payload for e in events if e.kind == "received" and isinstance(e.payload, dict)]
    phones = [p["applicant_phone"] for p in payloads if "applicant_phone" in p]
    assert 0.8 * len(payloads) < len(phones)
    good = [p for p in phones if len(p) == 11 and p.isdigit() and p.startswith("1")]
    assert 0.97 * len(phones) < len(good) < len(phones)  # a few clerks mistype them
    assert Counter(p.get("channel") for p in payloads).keys() == {"window", "online", None}


def test_ratings_come_from_four_button_devices_and_are_mostly_high(week):
    _, ratings, *_ = week
    scores = Counter(r.score for r in ratings)
    assert set(scores) == {100, 80, 60, 0}
    assert scores[100] > 0.8 * len(ratings)
    assert all(isinstance(r.rated_at, datetime) for r in ratings)


def test_cases_per_level_follow_the_size_of_the_centers(week):
    *_, tally = week
    assert tally.cases["county"] > tally.cases["city"] > tally.cases["region"] > 0
