"""Satisfaction ratings (好差评): low ratings and their rectification (整改).

A rating below 60 — from an on-site rating device (评价器) or an SMS reply — is a
yellow `low_satisfaction` warning at the moment it was given. An officer must
follow it up (整改) by add_working(date(rated), 15); if not, the red
`rectification_overdue` fires at 00:00 after that day. A row of the exchange's
``onsite_ratings`` is usable or refused by :func:`check_onsite_row`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from rules.alarms import AlarmFact, make_fact
from rules.calendar import WorkCalendar
from rules.events import FIRST_YEAR, LAST_YEAR, MAX_ID_CHARS, parse_timestamp

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


# --- one row of onsite_ratings --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnsiteRow:
    """A usable row of the exchange's ``onsite_ratings`` (评价器), as checked."""

    rating_id: int
    case_no: str | None
    window_id: str | None
    staff_id: str | None
    score: int
    rated_at: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """A row of ``onsite_ratings`` that cannot be used, with the reason a person can read."""

    rating_id: int
    reason: str


def check_onsite_row(rating_id, case_no, window_id, staff_id, score, rated_at, *, tz: tzinfo) -> OnsiteRow | Refused:
    """One raw ``onsite_ratings`` row as an OnsiteRow, or Refused with a reason a person can read.

    A rated_at without an offset is local time; a rated_at after `now` is kept and
    judged when it comes (a replay), exactly like a case event.
    """

    def text(name, value):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _Bad(f"{name} {value!r} is not text")
        if "\x00" in value:
            raise _Bad(f"{name} {_show(value)} holds a NUL character, which cannot be stored")
        if len(value.strip()) > MAX_ID_CHARS:
            raise _Bad(
                f"{name} {_show(value)} is {len(value):,} characters long, longer than any id may be "
                f"(at most {MAX_ID_CHARS})"
            )
        return value.strip()

    try:
        case_no, window_id, staff_id = (
            text("case_no", case_no),
            text("window_id", window_id),
            text("staff_id", staff_id),
        )
        if score is None:
            raise _Bad("score is NULL")
        if isinstance(score, bool) or not isinstance(score, int):
            raise _Bad(f"score {_show(score)} is not a whole number")
        if not 0 <= score <= 100:
            raise _Bad(f"score {score} is outside 0–100")
        if rated_at is None:
            raise _Bad("rated_at is NULL")
        moment = parse_timestamp(rated_at, tz)
        if moment is None:
            raise _Bad(f"rated_at {_show(rated_at)} is not an ISO-8601 timestamp")
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            raise _Bad(
                f"rated_at {moment.isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR} a rating can fall in"
            )
        if case_no is None and window_id is None:
            raise _Bad("the rating names neither a case nor a window, so nobody can be held to it")
    except _Bad as bad:
        return Refused(rating_id, str(bad))
    return OnsiteRow(rating_id, case_no, window_id, staff_id, score, moment)


class _Bad(Exception):
    pass


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
