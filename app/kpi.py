"""Performance indicators (效能指标) for managers: pre-aggregated by day and place,
read for any date range and scope, with roll-ups by level, rankings and trends.

Definitions (shown to users on the KPI page and in the PDF):

* 按时办结率 on-time rate = cases completed in the period with ``on_time`` ÷ cases completed in the period.
* 提前办结率 early rate = completed cases with ``early`` ÷ cases completed.
* 超期未办结 overdue open = cases not ended whose promise due date is before today (as of now).
* average used vs promised working days = Σ used_days ÷ n and Σ promised_days ÷ n over completed
  cases that have both.
* 补正率 correction rate = completed cases that had a correction notice ÷ cases completed;
  最多跑一次率 one-visit rate = the rest (no correction notice).
* satisfaction = average score of ratings given in the period (on-site devices and SMS replies alike);
  满意率 = ratings with score ≥ :data:`SATISFIED_SCORE` ÷ all ratings. The four-button devices send
  100/80/60/0, so "满意" and "基本满意" count as satisfied and 60 ("一般") does not.

``kpi_daily`` holds one row per local day and (center, department, window, staff).
:func:`refresh` rebuilds only the days touched since it last ran: days on which
a re-judged case was received or completed, now or before late data moved or
retracted that (:func:`_days_once_counted`), and days of new ratings. A day is
recomputed whole and written (delete + insert in one transaction) only if it
changed, so running it twice is harmless and the cache version moves only with data.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, Engine, and_, delete, func, insert, literal, select
from sqlalchemy import case as sql_case

from app.base import outage
from app.base.database import long_statements
from app.base.locks import holding
from app.base.tables import OPEN_STATUSES, cases, events, kpi_daily, kpi_monthly, kpi_state, ratings
from app.queries.reference import Reference
from app.scope import Scope, scope_for

log = logging.getLogger(__name__)

SATISFIED_SCORE = 80  # 满意率 cut-off; coordinated with the SMS ratings, which share the `ratings` table
REFRESH_SECONDS = 60.0
SAFETY_MARGIN = timedelta(minutes=10)  # rows committed late with an older judged_at are still caught
DAYS_PER_BATCH = 31
RANK_TOP, RANK_BOTTOM = 50, 10  # a report keeps the best fifty and the worst ten of each ranking
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


# --- maintenance ---------------------------------------------------------------------------------


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
                    select(literal(month, Date()), *place, *_sums())
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


def version(engine: Engine) -> str:
    """Changes whenever kpi_daily does: part of every cache key of a report."""
    with engine.connect() as conn:
        value = conn.execute(select(kpi_state.c.refreshed_at).where(kpi_state.c.name == "daily")).scalar()
    return str(value)


def prewarm(services) -> int:
    """Compute the default report (the page's first view) of the region and every city and center into the cache.

    Runs in the server that just refreshed, so after each refresh the first
    manager to open the KPI page does not pay for the new version.
    """
    from app.scope import scope_for

    reference = services.reference.get()
    start, end = default_range(services.today())
    count = 0
    for center in sorted(
        reference.centers.values(), key=lambda c: (c.level != "region", c.level != "city", c.center_id)
    ):
        role = {"region": "region", "city": "city"}.get(center.level, "center")
        report(services, scope_for(role, center.center_id, reference), start, end)
        count += 1
    return count


def start_refresher(services) -> threading.Thread:
    """A daemon thread keeping kpi_daily fresh (on PostgreSQL one server at a time works)."""
    stop = threading.Event()
    services.kpi_stop = stop

    def loop():
        while True:
            try:
                days = refresh(services.engine, services.zone, services.clock())
                if days:
                    log.info("kpi: %d day(s) changed", days)
                    prewarm(services)
            except Exception as error:
                if not outage.transient(error):  # an outage has its own two lines (app.outage)
                    log.exception("kpi refresh failed; retrying in %.0f s", REFRESH_SECONDS)
            if stop.wait(REFRESH_SECONDS):
                return

    thread = threading.Thread(target=loop, name="web.kpi-refresh", daemon=True)
    thread.start()
    return thread


# --- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    received: int = 0
    completed: int = 0
    on_time: int = 0
    early: int = 0
    timed: int = 0
    used_days: int = 0
    promised_days: int = 0
    corrected: int = 0
    ended: int = 0
    ratings: int = 0
    rating_sum: int = 0
    satisfied: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(getattr(self, n) + getattr(other, n) for n in COUNTERS))

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return 100.0 * part / whole if whole else None

    @property
    def on_time_rate(self):
        return self._rate(self.on_time, self.completed)

    @property
    def early_rate(self):
        return self._rate(self.early, self.completed)

    @property
    def correction_rate(self):
        return self._rate(self.corrected, self.completed)

    @property
    def one_visit_rate(self):
        return self._rate(self.completed - self.corrected, self.completed)

    @property
    def avg_used(self):
        return self.used_days / self.timed if self.timed else None

    @property
    def avg_promised(self):
        return self.promised_days / self.timed if self.timed else None

    @property
    def avg_score(self):
        return self.rating_sum / self.ratings if self.ratings else None

    @property
    def satisfied_rate(self):
        return self._rate(self.satisfied, self.ratings)


@dataclass(frozen=True)
class Ranked:
    key: str
    name: str
    totals: Totals


@dataclass(frozen=True)
class RollupRow:
    depth: int  # 0 region, 1 city, 2 county
    center_id: str
    name: str
    totals: Totals


@dataclass(frozen=True)
class Report:
    scope: Scope
    scope_name: str
    start: date
    end: date
    totals: Totals
    overdue_open: int
    rollup: list[RollupRow]
    rankings: dict[str, list[Ranked]]  # center, dept, window, staff
    trend: list[tuple[date, Totals]]  # per week (its Monday) or per month (its first day)
    trend_unit: str = "week"
    satisfied_score: int = SATISFIED_SCORE
    computed_at: datetime | None = None
    notes: list[str] = field(default_factory=list)


def _totals(row, offset: int) -> Totals:
    return Totals(*(int(v or 0) for v in row[offset : offset + len(COUNTERS)]))


def _sums():
    return [func.sum(kpi_daily.c[name]) for name in COUNTERS]


def overdue_open(engine: Engine, scope: Scope, today: date) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(
                cases.c.status.in_(OPEN_STATUSES),
                cases.c.promise_due < today,
                scope.where(cases.c.center_id, cases.c.dept_id),
            )
        ).scalar_one()


def split_range(start: date, end: date) -> tuple[list[tuple[date, date]], list[date]]:
    """The whole calendar months inside [start, end] (read from kpi_monthly) and the day spans left at either end."""
    first = start if start.day == 1 else next_month(start)
    months = []
    while first <= end and next_month(first) - timedelta(days=1) <= end:
        months.append(first)
        first = next_month(first)
    if not months:
        return [(start, end)], []
    spans = []
    if start < months[0]:
        spans.append((start, months[0] - timedelta(days=1)))
    covered = next_month(months[-1]) - timedelta(days=1)
    if covered < end:
        spans.append((covered + timedelta(days=1), end))
    return spans, months


TREND_WEEKS_UP_TO_DAYS = 92  # longer ranges trend by month


def compute_report(
    engine: Engine, reference: Reference, scope: Scope, start: date, end: date, now: datetime, zone
) -> Report:
    """The KPI report from the pre-aggregates: whole months from kpi_monthly, the rest from kpi_daily."""
    spans, months = split_range(start, end)
    daily_scope = scope.where(kpi_daily.c.center_id, kpi_daily.c.dept_id)
    in_days = (
        and_(daily_scope, _or(*[and_(kpi_daily.c.day >= a, kpi_daily.c.day <= b) for a, b in spans])) if spans else None
    )
    daily_place = [kpi_daily.c[name] for name in PLACE]
    monthly_place = [kpi_monthly.c[name] for name in PLACE]
    monthly_sums = [func.sum(kpi_monthly.c[name]) for name in COUNTERS]
    by_month = end - start > timedelta(days=TREND_WEEKS_UP_TO_DAYS)
    with engine.connect() as conn:
        place_rows = []
        day_rows = []
        if spans:
            place_rows += conn.execute(select(*daily_place, *_sums()).where(in_days).group_by(*daily_place)).all()
            day_rows += conn.execute(select(kpi_daily.c.day, *_sums()).where(in_days).group_by(kpi_daily.c.day)).all()
        if months:
            in_months = and_(
                kpi_monthly.c.month.in_(months), scope.where(kpi_monthly.c.center_id, kpi_monthly.c.dept_id)
            )
            place_rows += conn.execute(
                select(*monthly_place, *monthly_sums).where(in_months).group_by(*monthly_place)
            ).all()
            day_rows += conn.execute(
                select(kpi_monthly.c.month, *monthly_sums).where(in_months).group_by(kpi_monthly.c.month)
            ).all()
    total = Totals()
    groups: dict[str, dict[str, Totals]] = {name: {} for name in ("center", "dept", "window", "staff")}
    for row in place_rows:
        values = _totals(row, 4)
        total = total + values
        for name, key in zip(("center", "dept", "window", "staff"), row[:4]):
            if key:
                groups[name][key] = groups[name].get(key, Totals()) + values
    names = {
        "center": reference.center_name,
        "dept": lambda k: f"{reference.dept_name(k)}（{reference.center_name(_dept_center(reference, k))}）",
        "window": lambda k: f"{reference.window_label(k)}（{reference.center_name(_window_center(reference, k))}）",
        "staff": lambda k: f"{reference.staff_name(k)}（{reference.center_name(_staff_center(reference, k))}）",
    }
    rankings = {name: _rank(values, names[name]) for name, values in groups.items()}
    # Thousands of windows and staff: keep the ends of each ranking so a cached report stays small.
    rankings = {
        name: rows if len(rows) <= RANK_TOP + RANK_BOTTOM else rows[:RANK_TOP] + rows[-RANK_BOTTOM:]
        for name, rows in rankings.items()
    }
    bucket = month_of if by_month else (lambda d: d - timedelta(days=d.weekday()))
    trend: dict[date, Totals] = {}
    for row in day_rows:
        key = bucket(row[0])
        trend[key] = trend.get(key, Totals()) + _totals(row, 1)
    today = now.astimezone(zone).date()
    return Report(
        scope=scope,
        scope_name=_scope_name(reference, scope),
        start=start,
        end=end,
        totals=total,
        overdue_open=overdue_open(engine, scope, today),
        rollup=_rollup(reference, scope, groups["center"]),
        rankings=rankings,
        trend=sorted(trend.items()),
        trend_unit="month" if by_month else "week",
        computed_at=now,
    )


def _or(*conditions):
    from sqlalchemy import or_

    return or_(*conditions)


def _dept_center(reference: Reference, dept_id: str):
    dept = reference.departments.get(dept_id)
    return dept.center_id if dept else None


def _staff_center(reference: Reference, staff_id: str):
    person = reference.staff.get(staff_id)
    return (
        _window_center(reference, person.window_id)
        if person and person.window_id
        else (_dept_center(reference, person.dept_id) if person and person.dept_id else None)
    )


def _window_center(reference: Reference, window_id: str):
    window = reference.windows.get(window_id)
    return window.center_id if window else None


def _rank(values: dict[str, Totals], name) -> list[Ranked]:
    """Best first: on-time rate, then satisfaction, then volume; places with nothing completed last."""
    ranked = [Ranked(key, name(key), totals) for key, totals in values.items()]
    ranked.sort(
        key=lambda r: (
            r.totals.on_time_rate is None,
            -(r.totals.on_time_rate or 0),
            -(r.totals.satisfied_rate or 0),
            -r.totals.completed,
            r.key,
        )
    )
    return ranked


def _scope_name(reference: Reference, scope: Scope) -> str:
    from app.scope import scope_label

    return scope_label(scope, reference)


def _rollup(reference: Reference, scope: Scope, by_center: dict[str, Totals]) -> list[RollupRow]:
    """Region → cities → counties, each row the sum of its own center and everything below it."""
    if scope.dept is not None:
        return []

    def subtree(center_id: str) -> Totals:
        total = Totals()
        for member in reference.descendants(center_id):
            total = total + by_center.get(member, Totals())
        return total

    rows: list[RollupRow] = []

    def walk(center_id: str, depth: int) -> None:
        if not scope.allows_center(center_id) and not any(
            scope.allows_center(c) for c in reference.descendants(center_id)
        ):
            return
        center = reference.centers.get(center_id)
        rows.append(RollupRow(depth, center_id, center.name if center else center_id, subtree(center_id)))
        for child in reference.children(center_id):
            walk(child.center_id, depth + 1)

    roots = [scope.scope_id] if scope.scope_id in reference.centers else [reference.region_id()]
    for root in roots:
        if root:
            walk(root, 0)
    return rows


def narrow_scope(reference: Reference, user_scope: Scope, scope_id: str | None) -> Scope:
    """The scope a report asks for, which must lie inside the user's own; ValueError otherwise."""
    if not scope_id or scope_id == user_scope.scope_id:
        return user_scope
    if scope_id in reference.centers:
        if user_scope.dept is not None or not user_scope.allows_center(scope_id):
            raise ValueError(f"scope {scope_id} lies outside yours")
        level = reference.centers[scope_id].level
        return scope_for({"region": "region", "city": "city"}.get(level, "center"), scope_id, reference)
    dept = reference.departments.get(scope_id)
    if dept is not None and user_scope.allows(dept.center_id, dept.dept_id):
        return scope_for("department", scope_id, reference)
    raise ValueError(f"scope {scope_id} lies outside yours")


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=29), today


# A report covers days from EARLIEST to a year after today, at most MAX_DAYS of them: an
# instant of year 1 overflows on its way to UTC, and a century of weeks is nobody's report.
EARLIEST = date(2000, 1, 1)
MAX_DAYS = 5 * 366


class BadRange(ValueError):
    """A KPI date range that is no date, lies out of bounds or runs backwards (the asker's mistake: 400)."""


def _day(args, name: str, default: date) -> date:
    text = args.get(name)
    if not text:
        return default
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise BadRange(f"{name} must be a date YYYY-MM-DD") from None


def parse_request(services, user_scope: Scope, args) -> tuple[Scope, date, date]:
    """Scope, from and to of a KPI request (query string), checked against the user's scope.

    Raises :class:`BadRange` for unusable dates, ValueError for a scope outside the user's.
    """
    today = services.today()
    start, end = default_range(today)
    start, end = _day(args, "from", start), _day(args, "to", end)
    latest = today + timedelta(days=366)
    if not (EARLIEST <= start <= latest and EARLIEST <= end <= latest):
        raise BadRange(f"from and to must lie between {EARLIEST} and {latest}")
    if end < start:
        raise BadRange("to is before from")
    if (end - start).days >= MAX_DAYS:
        raise BadRange(f"a report covers at most {MAX_DAYS} days")
    return narrow_scope(services.reference.get(), user_scope, args.get("scope")), start, end


def report(services, scope: Scope, start: date, end: date, cached: bool = True) -> Report:
    """The report through the shared cache (Redis with several servers), keyed by the data's version."""
    key = f"kpi:{scope.key}:{start}:{end}:{version(services.engine)}"
    if cached:
        hit = services.cache.get(key)
        if hit is not None:
            return hit
    result = compute_report(
        services.engine, services.reference.get(), scope, start, end, services.clock(), services.zone
    )
    if cached:
        services.cache.set(key, result, timeout=600)
    return result


# --- command line ----------------------------------------------------------------------------------

import click  # noqa: E402  (kept beside the command it serves)


@click.group("kpi")
def kpi_command() -> None:
    """KPI pre-aggregation (kpi_daily)."""


@kpi_command.command("refresh")
def kpi_refresh() -> None:
    """Rebuild the days touched since the last refresh (all days the first time)."""

    from app.base.database import open_database
    from app.base.settings import load

    settings = load()
    days = refresh(open_database(settings), settings.zone, datetime.now(UTC))
    click.echo(f"kpi: {days} day(s) changed")


@kpi_command.command("rebuild")
@click.option("--days", type=int, default=None, help="Only the last N days (default: everything).")
def kpi_rebuild(days: int | None) -> None:
    """Recompute days whole (refresh already follows late data; this is for e.g. a restored backup)."""

    from app.base.database import open_database
    from app.base.settings import load

    settings = load()
    engine = open_database(settings)
    now = datetime.now(UTC)
    if days is None:
        with engine.begin() as conn:
            conn.execute(delete(kpi_state))
        click.echo(f"kpi: {refresh(engine, settings.zone, now)} day(s) changed")
        return
    today = now.astimezone(settings.zone).date()
    chosen = {today - timedelta(days=i) for i in range(days)}
    with long_statements():
        changed = rebuild_days(engine, chosen, settings.zone)
        rebuild_months(engine, {month_of(d) for d in chosen})  # a repair: the months are summed again regardless
    click.echo(f"kpi: recomputed {len(chosen)} day(s), {len(changed)} changed")
