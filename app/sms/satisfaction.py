"""Satisfaction (满意度) for the KPI page and PDF: on-site ratings and SMS scores
per center, department, window and staff member, with trends and the low
ratings awaiting follow-up (整改).

Definitions (the KPI page's, :mod:`app.kpi.report`):

* a rating is a score 0–100, from an on-site device (100/80/60/0) or an SMS reply;
* 满意率 satisfied rate = ratings with score ≥ ``rules.ratings.SATISFIED_SCORE`` (80) ÷ all ratings,
  in per cent: 满意 and 非常满意 count, 60 (一般) does not;
* 不满意 low = score < ``rules.ratings.LOW_SCORE`` (60): each one raises ``low_satisfaction``
  and must be followed up within 15 working days;
* average = Σ score ÷ ratings; a period counts ratings *given* in it (local dates, both ends included).

Every function takes the user's :class:`app.scope.Scope`; nothing outside it is
ever counted. Phone numbers never appear here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from sqlalchemy import Engine, and_, func, select
from sqlalchemy import case as sql_case

from app.base.tables import ratings
from app.scope import Scope
from rules.ratings import LOW_SCORE, RECTIFY_DAYS, SATISFIED_SCORE

Level = Literal["center", "dept", "window", "staff"]
Source = Literal["onsite", "sms"]
Period = Literal["day", "week", "month"]

COLUMNS = {
    "center": ratings.c.center_id,
    "dept": ratings.c.dept_id,
    "window": ratings.c.window_id,
    "staff": ratings.c.staff_id,
}


@dataclass(frozen=True)
class Satisfaction:
    ratings: int = 0
    score_sum: int = 0
    satisfied: int = 0  # score >= SATISFIED_SCORE
    low: int = 0  # score < LOW_SCORE
    onsite: int = 0
    sms: int = 0

    def __add__(self, other: Satisfaction) -> Satisfaction:
        return Satisfaction(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def avg_score(self) -> float | None:
        return self.score_sum / self.ratings if self.ratings else None

    @property
    def satisfied_rate(self) -> float | None:
        """满意率, per cent."""
        return 100.0 * self.satisfied / self.ratings if self.ratings else None

    @property
    def low_rate(self) -> float | None:
        return 100.0 * self.low / self.ratings if self.ratings else None

    def as_json(self) -> dict:
        return {
            "ratings": self.ratings,
            "avg_score": self.avg_score,
            "satisfied_rate": self.satisfied_rate,
            "satisfied": self.satisfied,
            "low": self.low,
            "low_rate": self.low_rate,
            "onsite": self.onsite,
            "sms": self.sms,
            "satisfied_score": SATISFIED_SCORE,
            "low_score": LOW_SCORE,
        }


@dataclass(frozen=True)
class PlaceSatisfaction:
    key: str  # the center, department, window or staff id
    name: str  # from the reference data when given, else the id
    satisfaction: Satisfaction


def _measures():
    def count_if(condition):
        return func.sum(sql_case((condition, 1), else_=0))

    return (
        func.count(),
        func.sum(ratings.c.score),
        count_if(ratings.c.score >= SATISFIED_SCORE),
        count_if(ratings.c.score < LOW_SCORE),
        count_if(ratings.c.source == "onsite"),
        count_if(ratings.c.source == "sms"),
    )


def _satisfaction(values) -> Satisfaction:
    return Satisfaction(*(int(v or 0) for v in values))


def _window(scope: Scope, start: date, end: date, zone: tzinfo, source: Source | None):
    """Ratings in `scope` given on local dates start..end (both included)."""
    conditions = [
        ratings.c.rated_at >= datetime.combine(start, time.min, tzinfo=zone),
        ratings.c.rated_at < datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
        scope.where(ratings.c.center_id, ratings.c.dept_id),
    ]
    if source is not None:
        conditions.append(ratings.c.source == source)
    return and_(*conditions)


def totals(
    engine: Engine, scope: Scope, start: date, end: date, zone: tzinfo, *, source: Source | None = None
) -> Satisfaction:
    """All ratings in `scope` given from `start` to `end`."""
    with engine.connect() as conn:
        row = conn.execute(select(*_measures()).where(_window(scope, start, end, zone, source))).one()
    return _satisfaction(row)


def by_place(
    engine: Engine,
    scope: Scope,
    start: date,
    end: date,
    zone: tzinfo,
    level: Level,
    *,
    source: Source | None = None,
    reference=None,
) -> list[PlaceSatisfaction]:
    """One row per center/department/window/staff member that was rated, best satisfied rate
    first (then average, then volume). Ratings with no such place are left out."""
    column = COLUMNS[level]
    with engine.connect() as conn:
        rows = conn.execute(
            select(column, *_measures())
            .where(_window(scope, start, end, zone, source), column.is_not(None))
            .group_by(column)
        ).all()
    namer = _namer(reference, level)
    places = [PlaceSatisfaction(row[0], namer(row[0]), _satisfaction(row[1:])) for row in rows]
    places.sort(
        key=lambda p: (
            -(p.satisfaction.satisfied_rate or 0),
            -(p.satisfaction.avg_score or 0),
            -p.satisfaction.ratings,
            p.key,
        )
    )
    return places


def _namer(reference, level: Level) -> Callable[[str], str]:
    if reference is None:
        return lambda key: key
    return {
        "center": reference.center_name,
        "dept": reference.dept_name,
        "window": reference.window_label,
        "staff": reference.staff_name,
    }[level]


def trend(
    engine: Engine,
    scope: Scope,
    start: date,
    end: date,
    zone: tzinfo,
    *,
    period: Period = "week",
    level: Level | None = None,
    key: str | None = None,
    source: Source | None = None,
) -> list[tuple[date, Satisfaction]]:
    """Satisfaction per day, week (starting Monday) or month, optionally of one place
    (`level` and `key`, e.g. level="window", key="W-A01"). Periods with no rating are left out."""
    condition = _window(scope, start, end, zone, source)
    if level is not None:
        condition = and_(condition, COLUMNS[level] == key)
    buckets: dict[date, Satisfaction] = {}
    for day, values in _by_local_day(engine, condition, zone):
        first = _period_start(day, period)
        buckets[first] = buckets.get(first, Satisfaction()) + values
    return sorted(buckets.items())


def _period_start(day: date, period: Period) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _by_local_day(engine: Engine, condition, zone: tzinfo) -> list[tuple[date, Satisfaction]]:
    """Grouped by local date in the database. PostgreSQL converts exactly with the zone's
    name; SQLite (the embedded default) groups by UTC hour and converts each hour here."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            bucket = func.date(func.timezone(str(zone), ratings.c.rated_at))
            rows = conn.execute(select(bucket, *_measures()).where(condition).group_by(bucket)).all()
            return [(row[0], _satisfaction(row[1:])) for row in rows]
        hour = func.strftime("%Y-%m-%d %H", ratings.c.rated_at)
        rows = conn.execute(select(hour, *_measures()).where(condition).group_by(hour)).all()
    days: dict[date, Satisfaction] = {}
    for utc_hour, *values in rows:
        instant = datetime.strptime(utc_hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
        day = instant.astimezone(zone).date()
        days[day] = days.get(day, Satisfaction()) + _satisfaction(values)
    return sorted(days.items())


# --- low ratings and their follow-up -------------------------------------------------------------


@dataclass(frozen=True)
class LowRating:
    id: int
    source: str
    case_no: str | None
    center_id: str | None
    dept_id: str | None
    window_id: str | None
    staff_id: str | None
    score: int
    rated_at: datetime
    due: date  # add_working(date(rated), 15): a follow-up on or before this day is in time
    followed_up_at: datetime | None
    follow_up_by: str | None
    follow_up_note: str | None

    def state_at(self, now: datetime, zone: tzinfo) -> str:
        """pending (not followed up, still in time) · overdue · done · done_late."""
        deadline = datetime.combine(self.due + timedelta(days=1), time.min, tzinfo=zone)
        if self.followed_up_at is not None and self.followed_up_at <= now:
            return "done" if self.followed_up_at < deadline else "done_late"
        return "overdue" if now >= deadline else "pending"


def low_ratings(
    engine: Engine,
    scope: Scope,
    start: date,
    end: date,
    zone: tzinfo,
    calendar_for: Callable[[str | None], object],
    *,
    open_only: bool = False,
    limit: int = 1000,
) -> list[LowRating]:
    """Ratings below 60 given from `start` to `end`, oldest first, with their follow-up deadline.
    `calendar_for(center_id)` gives the center's working-day calendar (the web app's
    ``services.calendar``). `open_only`: not followed up yet."""
    condition = and_(_window(scope, start, end, zone, None), ratings.c.score < LOW_SCORE)
    if open_only:
        condition = and_(condition, ratings.c.followed_up_at.is_(None))
    with engine.connect() as conn:
        rows = (
            conn.execute(select(ratings).where(condition).order_by(ratings.c.rated_at, ratings.c.id).limit(limit))
            .mappings()
            .all()
        )
    return [
        LowRating(
            r["id"],
            r["source"],
            r["case_no"],
            r["center_id"],
            r["dept_id"],
            r["window_id"],
            r["staff_id"],
            r["score"],
            r["rated_at"],
            calendar_for(r["center_id"]).add_working(r["rated_at"].astimezone(zone).date(), RECTIFY_DAYS),
            r["followed_up_at"],
            r["follow_up_by"],
            r["follow_up_note"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Report:
    """Everything the KPI page's satisfaction panel and the PDF show, for one scope and period."""

    start: date
    end: date
    totals: Satisfaction
    by_source: dict[str, Satisfaction]
    rankings: dict[str, list[PlaceSatisfaction]]  # center, dept, window, staff
    trend: list[tuple[date, Satisfaction]]  # per week
    follow_ups: dict[str, int]  # pending, overdue, done, done_late


def report(
    engine: Engine,
    scope: Scope,
    start: date,
    end: date,
    zone: tzinfo,
    now: datetime,
    calendar_for: Callable[[str | None], object],
    reference=None,
) -> Report:
    follow_ups = dict.fromkeys(("pending", "overdue", "done", "done_late"), 0)
    for low in low_ratings(engine, scope, start, end, zone, calendar_for, limit=100_000):
        follow_ups[low.state_at(now, zone)] += 1
    return Report(
        start,
        end,
        totals(engine, scope, start, end, zone),
        {source: totals(engine, scope, start, end, zone, source=source) for source in ("onsite", "sms")},
        {level: by_place(engine, scope, start, end, zone, level, reference=reference) for level in COLUMNS},
        trend(engine, scope, start, end, zone, period="week"),
        follow_ups,
    )
