"""Supervision orders (督办单) and appeals (申诉): their numbers, deadlines and the alarms they raise.

An officer issues an order on alarms of a case; the department answers with feedback (反馈)
by a deadline in working days; the officer accepts it (办结) or returns it (退回) with a new
deadline, which opens a new round. Two clocks bite without any new event:

- ``order_overdue`` (red): a round's feedback not given by its due date fires at 00:00
  after it, against the department, for the officers of the next level;
- ``not_supervised`` (red): a red alarm with no order on it for N working days fires at
  00:00 after ``add_working(date(fired), N)``, against the center whose officers let it lie.

A department may appeal an alarm; the decision is due ``add_working(date(filed), N)``.
Deadlines follow the due-date rule of every clock (semantics.md, "Time"): met by anything
on or before 23:59:59.999 of the due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from rules.alarms import AlarmFact, make_fact
from rules.calendar import WorkCalendar

FEEDBACK_DAYS = 3  # working days to answer an order (督办反馈时限)
NOT_SUPERVISED_DAYS = 5  # a red alarm without an order this long: "预警 5 天之内未督办"
APPEAL_DAYS = 5  # working days to decide an appeal
ORDER_KINDS = frozenset({"order_overdue"})
WATCH_KINDS = frozenset({"not_supervised"})
MAX_SEQUENCE = 9999  # 第 0001 号 … 第 9999 号 in a year


class OrderState(StrEnum):
    AWAITING = "awaiting"  # issued or returned: the department's feedback is due
    ANSWERED = "answered"  # feedback given: the officer's acceptance is due
    ACCEPTED = "accepted"  # 办结: the order is closed


class AppealState(StrEnum):
    PENDING = "pending"
    REVOKED = "revoked"  # 撤销: the alarm closes as revoked and counts nowhere
    REJECTED = "rejected"  # 驳回: the alarm stands
    REFERRED = "referred"  # 上报: passed to the next level, pending there


APPEAL_DECISIONS = {"revoke": AppealState.REVOKED, "reject": AppealState.REJECTED, "refer": AppealState.REFERRED}


def order_number(prefix: str, year: int, sequence: int) -> str:
    """The order's number as on an official document (公文编号): 桂政监督〔2026〕第 0123 号."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"order sequence {sequence} is outside 1..{MAX_SEQUENCE} for {year}")
    return f"{prefix}〔{year}〕第 {sequence:04d} 号"


def due_in(calendar: WorkCalendar, at: datetime, days: int, tz: tzinfo) -> date:
    """The due date `days` working days after the local date of `at`; that day itself never counts
    (民法典 第201条, the rule of every clock)."""
    if days < 1:
        raise ValueError(f"a deadline needs at least 1 working day, not {days}")
    return calendar.add_working(at.astimezone(tz).date(), days)


def fires_after(due: date, tz: tzinfo) -> datetime:
    """00:00 local of the day after `due`: the first instant the deadline is missed."""
    return datetime.combine(due + timedelta(days=1), time.min, tzinfo=tz)


@dataclass(frozen=True, slots=True)
class OrderRound:
    """One round of an order: the feedback due by `due`, given at `answered_at` if it was."""

    order_id: int
    round: int
    case_no: str | None
    center_id: str | None
    dept_id: str | None
    due: date
    answered_at: datetime | None

    @property
    def subject(self) -> str:
        return f"order:{self.order_id}/{self.round}"


def order_overdue(order: OrderRound, now: datetime, tz: tzinfo) -> AlarmFact | None:
    """order_overdue (督办逾期未反馈, alarm): the round's feedback was not given by its due date.

    Fires at 00:00 after the due date; feedback given later ends it then (it did happen).
    """
    fired_at = fires_after(order.due, tz)
    if fired_at > now or (order.answered_at is not None and order.answered_at < fired_at):
        return None
    ended_at = order.answered_at if order.answered_at is not None and order.answered_at <= now else None
    return make_fact(
        "order_overdue",
        case_no=order.case_no,
        subject=order.subject,
        fired_at=fired_at,
        ended_at=ended_at,
        due=order.due,
        place=(order.center_id, order.dept_id, None, None),
    )


def order_next_change(order: OrderRound, now: datetime, tz: tzinfo) -> datetime | None:
    """The next instant after `now` at which the round's alarm changes by itself (None: never)."""
    fired_at = fires_after(order.due, tz)
    if order.answered_at is not None and order.answered_at < fired_at:
        return None
    return fired_at if fired_at > now else None


@dataclass(frozen=True, slots=True)
class WatchedAlarm:
    """A red alarm, watched for an order: `supervised_at` is when the first order on it was issued."""

    alarm_id: int
    case_no: str | None
    center_id: str | None
    dept_id: str | None
    fired_at: datetime
    closed_at: datetime | None
    closed_reason: str | None
    supervised_at: datetime | None

    @property
    def subject(self) -> str:
        return f"alarm:{self.alarm_id}"


def supervise_by(alarm: WatchedAlarm, calendar: WorkCalendar, days: int, tz: tzinfo) -> tuple[date, datetime]:
    """(due date, the instant not_supervised fires) of a red alarm."""
    due = due_in(calendar, alarm.fired_at, days, tz)
    return due, fires_after(due, tz)


def not_supervised(
    alarm: WatchedAlarm, calendar: WorkCalendar, days: int, now: datetime, tz: tzinfo
) -> AlarmFact | None:
    """not_supervised (报警未督办, alarm): a red alarm left with no order for `days` working days.

    Fires at 00:00 after ``add_working(date(fired), days)``. An order issued, or the alarm
    closed (resolved or by an officer), before then: no alarm; after: it ends then. An alarm
    retracted or revoked should never have fired, so neither should this one.
    """
    if alarm.closed_reason in ("retracted", "revoked"):
        return None
    due, fired_at = supervise_by(alarm, calendar, days, tz)
    ends = [t for t in (alarm.supervised_at, alarm.closed_at) if t is not None]
    ended_at = min(ends, default=None)
    if fired_at > now or (ended_at is not None and ended_at < fired_at):
        return None
    return make_fact(
        "not_supervised",
        case_no=alarm.case_no,
        subject=alarm.subject,
        fired_at=fired_at,
        ended_at=ended_at if ended_at is not None and ended_at <= now else None,
        due=due,
        place=(alarm.center_id, alarm.dept_id, None, None),
    )


def watch_next_change(
    alarm: WatchedAlarm, calendar: WorkCalendar, days: int, now: datetime, tz: tzinfo
) -> datetime | None:
    """The next instant after `now` at which the watched alarm's not_supervised changes by itself."""
    if alarm.closed_reason in ("retracted", "revoked") or alarm.supervised_at is not None:
        return None
    if alarm.closed_at is not None:
        return None
    fired_at = supervise_by(alarm, calendar, days, tz)[1]
    return fired_at if fired_at > now else None


def appeal_state(state: str, decide_by: date, now: datetime, tz: tzinfo) -> str:
    """What an appeal shows: its state, or 'overdue' when still pending after its decision date."""
    if state in (AppealState.PENDING, AppealState.REFERRED) and now >= fires_after(decide_by, tz):
        return "overdue"
    return state
