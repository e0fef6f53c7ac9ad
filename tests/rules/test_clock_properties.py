"""Properties of judge_case over random event histories around National Day 2026."""

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rules.builders import N10, TZ, W5, E, judge, payload_strategies

ORIGIN = datetime(2026, 9, 15, tzinfo=TZ)
PROPS = settings(max_examples=200, deadline=None)

PAYLOADS = payload_strategies()
# the events in a case's life are mostly these; endings are rarer
KIND = st.sampled_from(
    ["accepted"] * 3
    + [
        "correction_notice",
        "correction_received",
        "step_started",
        "step_started",
        "step_completed",
        "step_completed",
        "special_started",
        "special_ended",
        "extended",
        "completed",
        "delivered",
        "rejected",
        "withdrawn",
    ]
)
OFFSET = st.integers(min_value=0, max_value=45 * 24 * 4).map(lambda q: timedelta(minutes=15 * q))


@st.composite
def histories(draw):
    received = E("received", (ORIGIN + draw(OFFSET) / 4).strftime("%Y-%m-%d %H:%M"))
    events = [received]
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(KIND)
        when = received.occurred_at + draw(OFFSET) / 2
        events.append(E(kind, when.strftime("%Y-%m-%d %H:%M"), **draw(PAYLOADS[kind])))
    return events


ITEMS = st.sampled_from(
    [W5, N10, replace(W5, promised_days=0), replace(W5, promised_days=1, warn_days=3), replace(N10, warn_days=1)]
)
NOW = OFFSET.map(lambda d: ORIGIN + d)


def judged_at(events, item, now):
    return judge(events, now.strftime("%Y-%m-%d %H:%M:%S.%f"), item)


@PROPS
@given(histories(), ITEMS, NOW, st.randoms())
def test_arrival_order_does_not_matter(events, item, now, rnd):
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert judged_at(events, item, now) == judged_at(shuffled, item, now)


@PROPS
@given(histories(), ITEMS, NOW, NOW)
def test_what_fired_stays_fired(events, item, a, b):
    """A fact fired by `now1` is still there later with the same instant: history is not rewritten.

    (promise_warning is the exception by design: it shows its latest episode.)
    """
    now1, now2 = min(a, b), max(a, b)
    early, late = judged_at(events, item, now1), judged_at(events, item, now2)
    if early is None:
        return
    later = {f.key: f for f in late.alarms}
    for f in early.alarms:
        if f.kind == "promise_warning":
            continue
        assert f.key in later, f
        assert later[f.key].fired_at == f.fired_at
        if f.ended_at is not None:
            assert later[f.key].ended_at == f.ended_at


def same(j1, j2):
    view = lambda j: j and (j.status, j.start_date, j.deemed_accepted, j.promise_due, j.statutory_due, j.alarms)
    return view(j1) == view(j2)


@PROPS
@given(histories(), ITEMS, NOW)
def test_nothing_changes_before_next_change_and_something_does_at_it(events, item, now):
    known = [e for e in events if e.occurred_at <= now]  # no new event arrives
    j = judged_at(known, item, now)
    if j is None or j.next_change is None:
        return
    assert j.next_change > now
    assert same(j, judged_at(known, item, j.next_change - timedelta(microseconds=1)))
    assert not same(j, judged_at(known, item, j.next_change))


@PROPS
@given(histories(), ITEMS, NOW)
def test_alarm_facts_are_consistent(events, item, now):
    j = judged_at(events, item, now)
    if j is None:
        return
    by_kind = {f.kind: f for f in j.alarms}
    for f in j.alarms:
        assert f.fired_at <= now and (f.ended_at is None or f.fired_at <= f.ended_at <= now)
        assert f.fired_at.tzinfo is not None
    warning, overdue = by_kind.get("promise_warning"), by_kind.get("promise_overdue")
    if warning and overdue:
        assert warning.fired_at <= overdue.fired_at
        assert warning.ended_at is not None and warning.ended_at <= overdue.fired_at  # red supersedes yellow
    if j.status == "completed" and j.start_date is not None:
        assert j.on_time is (overdue is None)
    if j.status in ("accepted", "paused", "completed") and j.start_date is None:
        assert j.status == "completed"
    if j.status == "paused":
        assert j.promise_due is None or j.statutory_due is None
