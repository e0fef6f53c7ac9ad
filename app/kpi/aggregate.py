"""The KPI pre-aggregation: ``kpi_daily`` and ``kpi_monthly``, kept up to date.

``kpi_daily`` holds one row per local day and (center, department, window, staff).
:func:`refresh` rebuilds only the days touched since it last ran: days on which
a re-judged case was received or completed, now or before late data moved or
retracted that (:func:`_days_once_counted`), and days of new ratings. A day is
recomputed whole and written (delete + insert in one transaction) only if it
changed, so running it twice is harmless and the cache version moves only with data.
``kpi_monthly`` sums the days of each month the same way.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta

from sqlalchemy import Date, Engine, and_, delete, func, insert, literal, select
from sqlalchemy import case as sql_case

from app.base.database import long_statements
from app.base.locks import holding
from app.base.tables import cases, events, kpi_daily, kpi_monthly, kpi_state, ratings
from rules.ratings import SATISFIED_SCORE

REFRESH_SECONDS = 60.0
SAFETY_MARGIN = timedelta(minutes=10)  # rows committed late with an older judged_at are still caught
DAYS_PER_BATCH = 31
PLACE = ("center_id", "dept_id", "window_id", "staff_id")
COUNTERS = (
    "received",
    "completed",
    "on_time",
    "early",
    "timed",
    "used_days",
    "promised_days",
    "corrected",
    "ended",
    "ratings",
    "rating_sum",
    "satisfied",
)
REFRESH_LOCK = "supervise-kpi-refresh"


def sums() -> list:
    """Σ of every counter of kpi_daily, in COUNTERS order (a month's row, a report's figures)."""
    return [func.sum(kpi_daily.c[name]) for name in COUNTERS]


def _bounds(day: date, zone) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


def _place(row) -> tuple[str, str, str, str]:
    return tuple(row[i] or "" for i in range(4))


def _day_rows(conn, day: date, zone) -> list[dict]:
    """Every kpi_daily row of one day, computed from cases and ratings."""
    start, end = _bounds(day, zone)
    place = (cases.c.center_id, cases.c.dept_id, cases.c.window_id, cases.c.staff_id)
    totals: dict[tuple, dict] = {}

    def bucket(key):
        return totals.setdefault(key, dict.fromkeys(COUNTERS, 0))

    ended = sql_case((cases.c.status.in_(("rejected", "withdrawn")), 1), else_=0)
    for row in conn.execute(
        select(*place, func.count(), func.sum(ended))
        .where(cases.c.received_at >= start, cases.c.received_at < end)
        .group_by(*place)
    ):
        b = bucket(_place(row))
        b["received"] += row[4]
        b["ended"] += int(row[5] or 0)
    timed = and_(cases.c.used_days.is_not(None), cases.c.promised_days.is_not(None))
    flag = lambda condition: func.sum(sql_case((condition, 1), else_=0))
    for row in conn.execute(
        select(
            *place,
            func.count(),
            flag(cases.c.on_time.is_(True)),
            flag(cases.c.early.is_(True)),
            flag(timed),
            func.sum(sql_case((timed, cases.c.used_days), else_=0)),
            func.sum(sql_case((timed, cases.c.promised_days), else_=0)),
            flag(cases.c.corrections > 0),
        )
        .where(cases.c.completed_at >= start, cases.c.completed_at < end, cases.c.status == "completed")
        .group_by(*place)
    ):
        b = bucket(_place(row))
        for name, value in zip(
            ("completed", "on_time", "early", "timed", "used_days", "promised_days", "corrected"), row[4:]
        ):
            b[name] += int(value or 0)
    rplace = (ratings.c.center_id, ratings.c.dept_id, ratings.c.window_id, ratings.c.staff_id)
    for row in conn.execute(
        select(*rplace, func.count(), func.sum(ratings.c.score), flag(ratings.c.score >= SATISFIED_SCORE))
        .where(ratings.c.rated_at >= start, ratings.c.rated_at < end)
        .group_by(*rplace)
    ):
        b = bucket(_place(row))
        b["ratings"] += row[4]
        b["rating_sum"] += int(row[5] or 0)
        b["satisfied"] += int(row[6] or 0)
    return [dict(day=day, **dict(zip(PLACE, key)), **values) for key, values in totals.items()]


def rebuild_days(engine: Engine, days: set[date], zone) -> set[date]:
    """Recompute these days whole; returns the days whose rows changed (the others are left as they were).

    Each refresh looks again at cases judged shortly before its mark (see
    SAFETY_MARGIN), so most days it recomputes are unchanged: leaving them
    alone keeps the cache version, and every cached report, where it was.
    """
    changed: set[date] = set()
    ordered = sorted(days)
    for index in range(0, len(ordered), DAYS_PER_BATCH):
        batch = ordered[index : index + DAYS_PER_BATCH]
        with engine.begin() as conn:
            fresh = {day: _day_rows(conn, day, zone) for day in batch}
            stored = _stored_rows(conn, batch)
            moved = [day for day in batch if {_row_key(r) for r in fresh[day]} != stored.get(day, set())]
            if moved:
                conn.execute(delete(kpi_daily).where(kpi_daily.c.day.in_(moved)))
                rows = [r for day in moved for r in fresh[day]]
                if rows:
                    conn.execute(insert(kpi_daily), rows)
            changed.update(moved)
    return changed


def _row_key(row: dict) -> tuple:
    return tuple(row[name] for name in ("day", *PLACE, *COUNTERS))


def _stored_rows(conn, days: list[date]) -> dict[date, set[tuple]]:
    stored: dict[date, set[tuple]] = {}
    columns = [kpi_daily.c[name] for name in ("day", *PLACE, *COUNTERS)]
    for row in conn.execute(select(*columns).where(kpi_daily.c.day.in_(days))):
        stored.setdefault(row[0], set()).add(tuple(row))
    return stored


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def rebuild_months(engine: Engine, months: set[date]) -> None:
    """Sum kpi_daily into kpi_monthly for these months (first days), each in one transaction."""
    place = [kpi_daily.c[name] for name in PLACE]
    for month in sorted(months):
        with engine.begin() as conn:
            conn.execute(delete(kpi_monthly).where(kpi_monthly.c.month == month))
            conn.execute(
                insert(kpi_monthly).from_select(
                    ["month", *PLACE, *COUNTERS],
                    select(literal(month, Date()), *place, *sums())
                    .where(kpi_daily.c.day >= month, kpi_daily.c.day < next_month(month))
                    .group_by(*place),
                )
            )


def _touched_days(conn, judged_mark: datetime | None, rating_mark: int, zone) -> set[date]:
    if judged_mark is None:
        first, last = conn.execute(select(func.min(cases.c.received_at), func.max(cases.c.completed_at))).one()
        first_rating, last_rating = conn.execute(
            select(func.min(ratings.c.rated_at), func.max(ratings.c.rated_at))
        ).one()
        instants = [_aware(v) for v in (first, last, first_rating, last_rating) if v is not None]
        if not instants:
            return set()
        lo, hi = min(instants).astimezone(zone).date(), max(instants).astimezone(zone).date()
        return {lo + timedelta(days=i) for i in range((hi - lo).days + 1)}
    rejudged = cases.c.judged_at > judged_mark - SAFETY_MARGIN
    days: set[date] = set()
    for received, completed in conn.execute(select(cases.c.received_at, cases.c.completed_at).where(rejudged)):
        days.add(received.astimezone(zone).date())
        if completed is not None:
            days.add(completed.astimezone(zone).date())
    days |= _days_once_counted(conn, rejudged, zone)
    for (rated,) in conn.execute(select(ratings.c.rated_at).where(ratings.c.id > rating_mark)):
        days.add(rated.astimezone(zone).date())
    return days


def _days_once_counted(conn, rejudged, zone) -> set[date]:
    """Every day a re-judged case may have been counted on before, read from its events.

    A case counts on the day of its `received` and of its `completed`, and each
    is the instant of one of its events (rules.clocks: the first received, the
    completion that ended it). Late data can move either to another of its
    events, or retract the completion, but it never removes an event: so the
    days of all its received and completed events hold the day it used to be
    counted on, which refreshing only its current days would leave stale.
    (Derived from facts, not remembered in a column of `cases`: nothing to
    write back for millions of cases, and no column of the ingest's table that
    its writers must know to leave alone.)
    """
    counted = (
        select(events.c.occurred_at)
        .distinct()
        .join(cases, cases.c.case_no == events.c.case_no)
        .where(rejudged, events.c.kind.in_(("received", "completed")))
    )
    return {at.astimezone(zone).date() for (at,) in conn.execute(counted)}


def _aware(value):
    from app.queries.health import _aware as aware

    return aware(value)


_refresh_lock = threading.Lock()


def refresh(engine: Engine, zone, now: datetime) -> int:
    """Bring kpi_daily up to date with cases and ratings; returns the number of days whose aggregates changed.

    Every web server runs it each minute; one at a time does the work (a lock on
    either backend), so two never both write the days or the first kpi_state row."""
    if not _refresh_lock.acquire(blocking=False):
        return 0
    try:
        with holding(engine, REFRESH_LOCK, wait=False) as mine, long_statements():
            return _refresh(engine, zone, now) if mine else 0
    finally:
        _refresh_lock.release()


def _refresh(engine: Engine, zone, now: datetime) -> int:
    with engine.connect() as conn:
        state = conn.execute(select(kpi_state).where(kpi_state.c.name == "daily")).mappings().first()
        judged_mark = state["judged_mark"] if state else None
        rating_mark = state["rating_mark"] if state else 0
        # Marks are read before the scan: anything judged after them is caught next time.
        new_judged = _aware(conn.execute(select(func.max(cases.c.judged_at))).scalar())
        new_rating = conn.execute(select(func.max(ratings.c.id))).scalar() or 0
        days = _touched_days(conn, judged_mark, rating_mark, zone)
    changed = rebuild_days(engine, days, zone)
    rebuild_months(engine, {month_of(d) for d in changed})
    with engine.begin() as write:
        values = dict(judged_mark=new_judged or judged_mark, rating_mark=new_rating)
        if changed or not state:  # refreshed_at is the cache version: it moves only when data did
            values["refreshed_at"] = now
        if state:
            write.execute(kpi_state.update().where(kpi_state.c.name == "daily").values(**values))
        else:
            write.execute(insert(kpi_state).values(name="daily", **values))
    return len(changed)
