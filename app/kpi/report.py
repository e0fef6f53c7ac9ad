"""The KPI report: the pre-aggregates read for any date range and scope, with
roll-ups by level, rankings and trends, for the page, the JSON API and the PDF.

Definitions (shown to users on the KPI page and in the PDF):

* 按时办结率 on-time rate = cases completed in the period with ``on_time`` ÷ cases completed in the period.
* 提前办结率 early rate = completed cases with ``early`` ÷ cases completed.
* 超期未办结 overdue open = cases not ended whose promise due date is before today (as of now).
* average used vs promised working days = Σ used_days ÷ n and Σ promised_days ÷ n over completed
  cases that have both.
* 补正率 correction rate = completed cases that had a correction notice ÷ cases completed;
  最多跑一次率 one-visit rate = the rest (no correction notice).
* satisfaction = average score of ratings given in the period (on-site devices and SMS replies alike);
  满意率 = ratings with score ≥ :data:`rules.ratings.SATISFIED_SCORE` ÷ all ratings. The four-button devices send
  100/80/60/0, so "满意" and "基本满意" count as satisfied and 60 ("一般") does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, and_, func, select

from app.base.tables import OPEN_STATUSES, cases, kpi_daily, kpi_monthly, kpi_state
from app.kpi.aggregate import COUNTERS, PLACE, month_of, next_month, sums
from app.queries.reference import Reference
from app.scope import Scope, scope_for
from rules.ratings import SATISFIED_SCORE

RANK_TOP, RANK_BOTTOM = 50, 10  # a report keeps the best fifty and the worst ten of each ranking


def version(engine: Engine) -> str:
    """Changes whenever kpi_daily does: part of every cache key of a report."""
    with engine.connect() as conn:
        value = conn.execute(select(kpi_state.c.refreshed_at).where(kpi_state.c.name == "daily")).scalar()
    return str(value)


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
            place_rows += conn.execute(select(*daily_place, *sums()).where(in_days).group_by(*daily_place)).all()
            day_rows += conn.execute(select(kpi_daily.c.day, *sums()).where(in_days).group_by(kpi_daily.c.day)).all()
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
