"""Satisfaction ratings (好差评): low ratings and their rectification (整改).

A rating below 60 — from an on-site rating device (评价器) or an SMS reply — is a
yellow `low_satisfaction` warning at the moment it was given. An officer must
follow it up (整改) by add_working(date(rated), 15); if not, the red
`rectification_overdue` fires at 00:00 after that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from rules.alarms import AlarmFact, make_fact
from rules.calendar import WorkCalendar

LOW_SCORE = 60  # below this a rating is unsatisfied
# 满意率 counts ratings at or above this as satisfied (the KPI page, its PDF and the SMS ratings' figures).
# The four-button devices send 100/80/60/0: "满意" and "基本满意" count, 60 ("一般") does not.
SATISFIED_SCORE = 80
RECTIFY_DAYS = 15  # working days to record a rectification


@dataclass(frozen=True, slots=True)
class Rating:
    """One rating: an `onsite_ratings` row or an SMS reply. `subject` of its alarms is 'source:rating_id'."""

    rating_id: int
    score: int | None
    rated_at: datetime
    case_no: str | None = None
    center_id: str | None = None
    dept_id: str | None = None
    window_id: str | None = None
    staff_id: str | None = None
    source: str = "onsite"  # 'onsite' or 'sms'

    @property
    def subject(self) -> str:
        return f"{self.source}:{self.rating_id}"

    @property
    def low(self) -> bool:
        return self.score is not None and self.score < LOW_SCORE

    def _place(self):
        return (self.center_id, self.dept_id, self.window_id, self.staff_id)


def low_satisfaction(rating: Rating, rectified_at: datetime | None = None) -> AlarmFact | None:
    """low_satisfaction (warning): a rating below 60, fired when given, ended by its rectification."""
    if not rating.low:
        return None
    return make_fact(
        "low_satisfaction",
        case_no=rating.case_no,
        subject=rating.subject,
        fired_at=rating.rated_at,
        ended_at=rectified_at,
        due=None,
        place=rating._place(),
    )


def rectify_by(rating: Rating, calendar: WorkCalendar, tz: tzinfo) -> tuple[date, datetime]:
    """(due date, the instant rectification_overdue fires): add_working(date(rated), 15), then 00:00 local
    after that day."""
    due = calendar.add_working(rating.rated_at.astimezone(tz).date(), RECTIFY_DAYS)
    return due, datetime.combine(due + timedelta(days=1), time.min, tzinfo=tz)


def next_change(
    rating: Rating, followed_up_at: datetime | None, calendar: WorkCalendar, now: datetime, tz: tzinfo
) -> datetime | None:
    """The next instant after `now` at which the rating's alarms change with no new data (None: never)."""
    if not rating.low:
        return None
    instants = [rating.rated_at, followed_up_at]
    fires_at = rectify_by(rating, calendar, tz)[1]
    if followed_up_at is None or followed_up_at >= fires_at:
        instants.append(fires_at)
    return min((t for t in instants if t is not None and t > now), default=None)


def rectification_overdue(
    rating: Rating, rectified_at: datetime | None, calendar: WorkCalendar, now: datetime, tz: tzinfo
) -> AlarmFact | None:
    """rectification_overdue (alarm): a low rating not rectified by add_working(date(rated), 15).

    Fires at 00:00 local after that day; a rectification recorded at or before
    23:59:59.999 of it is in time (the same due-date rule as every clock).
    """
    if not rating.low:
        return None
    due, fired_at = rectify_by(rating, calendar, tz)
    if fired_at > now or (rectified_at is not None and rectified_at < fired_at):
        return None
    ended_at = rectified_at if rectified_at is not None and rectified_at <= now else None
    return make_fact(
        "rectification_overdue",
        case_no=rating.case_no,
        subject=rating.subject,
        fired_at=fired_at,
        ended_at=ended_at,
        due=due,
        place=rating._place(),
    )
