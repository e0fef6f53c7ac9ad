"""The deadlines of the supervision loop over the 2026 holidays, and the alarms they raise."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import WorkCalendar
from rules.orders import (
    OrderRound,
    WatchedAlarm,
    appeal_state,
    due_in,
    fires_after,
    not_supervised,
    order_next_change,
    order_number,
    order_overdue,
    watch_next_change,
)

CST = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def at(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    return instant if instant.tzinfo else instant.replace(tzinfo=CST)


@pytest.mark.parametrize(
    "start,days,due",
    [
        # National Day 10-01..07 is off; 10-10 is a make-up Saturday: it counts
        ("2026-09-30 10:00", 3, date(2026, 10, 10)),
        # the start day never counts, even at 00:00
        ("2026-11-02 00:00", 3, date(2026, 11, 5)),
        # from a Saturday that is a day off: Monday is the first working day
        ("2026-11-07 09:00", 1, date(2026, 11, 9)),
        # Spring Festival 02-15..23 is off; 02-14 is a make-up Saturday
        ("2026-02-13 16:00", 5, date(2026, 2, 27)),
        # 23:30 UTC is the next local day: dates are local
        ("2026-11-02T23:30:00+00:00", 1, date(2026, 11, 4)),
    ],
)
def test_deadlines_in_working_days(start, days, due):
    assert due_in(CAL, at(start), days, CST) == due


def test_a_deadline_needs_a_day():
    with pytest.raises(ValueError):
        due_in(CAL, at("2026-11-02 10:00"), 0, CST)


def test_numbers_read_like_an_official_document():
    assert order_number("桂政监督", 2026, 123) == "桂政监督〔2026〕第 0123 号"
    assert order_number("邕政监", 2027, 1) == "邕政监〔2027〕第 0001 号"
    with pytest.raises(ValueError):
        order_number("桂政监督", 2026, 10_000)


ROUND = OrderRound(7, 1, "C1", "K", "D1", date(2026, 10, 10), None)
FIRES = at("2026-10-11 00:00")


@pytest.mark.parametrize(
    "answered,now,fired,ended",
    [
        (None, at("2026-10-10 23:59:59"), False, None),  # the due day itself is in time
        (None, FIRES, True, None),  # 00:00 after the due date
        (at("2026-10-10 23:59:59"), at("2026-10-20 00:00"), False, None),  # answered on the due day
        (at("2026-10-12 09:00"), at("2026-10-20 00:00"), True, at("2026-10-12 09:00")),  # late: it happened
        (at("2026-10-12 09:00"), at("2026-10-11 08:00"), True, None),  # judged before the late answer
    ],
)
def test_order_overdue(answered, now, fired, ended):
    fact = order_overdue(OrderRound(7, 1, "C1", "K", "D1", date(2026, 10, 10), answered), now, CST)
    assert (fact is not None) == fired
    if fact:
        assert (fact.kind, fact.level, fact.subject, fact.fired_at, fact.ended_at) == (
            "order_overdue",
            "alarm",
            "order:7/1",
            FIRES,
            ended,
        )
        assert (fact.center_id, fact.dept_id, fact.due) == ("K", "D1", date(2026, 10, 10))


def test_order_due_index():
    assert order_next_change(ROUND, at("2026-10-01 00:00"), CST) == FIRES
    assert order_next_change(ROUND, FIRES, CST) is None  # fired: nothing more by itself
    answered = OrderRound(7, 1, "C1", "K", "D1", date(2026, 10, 10), at("2026-10-09 10:00"))
    assert order_next_change(answered, at("2026-10-09 11:00"), CST) is None


def watched(**changes) -> WatchedAlarm:
    base = dict(
        alarm_id=5,
        case_no="C1",
        center_id="K",
        dept_id="D1",
        fired_at=at("2026-09-28 00:00"),
        closed_at=None,
        closed_reason=None,
        supervised_at=None,
    )
    return WatchedAlarm(**(base | changes))


@pytest.mark.parametrize(
    "alarm,now,fired,ended",
    [
        # fired Monday 09-28; 5 working days skip National Day and count make-up 10-10: due 10-10
        (watched(), at("2026-10-10 23:59"), False, None),
        (watched(), at("2026-10-11 00:00"), True, None),
        (watched(supervised_at=at("2026-10-10 17:00")), at("2026-10-20 00:00"), False, None),  # ordered in time
        (watched(supervised_at=at("2026-10-12 09:00")), at("2026-10-20 00:00"), True, at("2026-10-12 09:00")),
        (watched(closed_at=at("2026-10-09 09:00"), closed_reason="resolved"), at("2026-10-20 00:00"), False, None),
        (
            watched(closed_at=at("2026-10-13 09:00"), closed_reason="resolved"),
            at("2026-10-20"),
            True,
            at("2026-10-13 09:00"),
        ),
        # retracted or revoked: it should never have fired, nor should this
        (watched(closed_at=at("2026-10-13 09:00"), closed_reason="retracted"), at("2026-10-20"), False, None),
        (watched(closed_at=at("2026-10-13 09:00"), closed_reason="revoked"), at("2026-10-20"), False, None),
    ],
)
def test_not_supervised(alarm, now, fired, ended):
    fact = not_supervised(alarm, CAL, 5, now, CST)
    assert (fact is not None) == fired
    if fact:
        assert (fact.kind, fact.subject, fact.fired_at, fact.ended_at, fact.due) == (
            "not_supervised",
            "alarm:5",
            at("2026-10-11 00:00"),
            ended,
            date(2026, 10, 10),
        )


def test_watch_due_index():
    assert watch_next_change(watched(), CAL, 5, at("2026-09-28 00:00"), CST) == at("2026-10-11 00:00")
    assert watch_next_change(watched(supervised_at=at("2026-09-29 00:00")), CAL, 5, at("2026-09-29"), CST) is None


def test_appeal_overdue_after_its_decision_day():
    due = date(2026, 2, 27)
    assert appeal_state("pending", due, at("2026-02-27 23:59"), CST) == "pending"
    assert appeal_state("pending", due, fires_after(due, CST), CST) == "overdue"
    assert appeal_state("referred", due, at("2026-03-02 10:00"), CST) == "overdue"
    assert appeal_state("revoked", due, at("2026-03-02 10:00"), CST) == "revoked"
