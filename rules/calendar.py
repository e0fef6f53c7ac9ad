"""Working days (工作日): the official calendar, a center's own changes, and day arithmetic.

A working day is Monday–Friday that is not an official day off, plus the official
make-up working days (调休上班日) on weekends; a center's calendar file may close
more days or open more working days on top of that. Periods are counted the way
民法典 第201条 and 行政许可法 第82条 require: the start day is never counted.

`W(d)` — `working_index` — is the number of working days up to and including `d`
from a fixed origin, computed in O(log n) as the Monday–Friday count (closed
form) plus the sum of the exceptions up to `d` (bisect over a sorted list).
"""

from __future__ import annotations

import bisect
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from rules.official_days import OFFICIAL_YEARS, OfficialYear

log = logging.getLogger(__name__)

WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())


def _weekdays_through(ordinal: int) -> int:
    """Mondays–Fridays among ordinals 1..ordinal (ordinal 1, 0001-01-01, is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


@dataclass(frozen=True, slots=True)
class CenterOverride:
    """A service center's own calendar: local closures and extra working days."""

    closures: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()


class WorkCalendar:
    """The working-day calendar of one service center: official days plus the center's override.

    A year with no official notice in the table falls back to Monday–Friday. That is
    never silent: the first use of such a year logs a WARNING (once per year per
    calendar) and the year is added to `fallback_years_used`, for a UI banner.
    """

    def __init__(
        self,
        official: Iterable[OfficialYear] = OFFICIAL_YEARS,
        *,
        extra_closures: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        official = tuple(official)
        self.official_years: frozenset[int] = frozenset(y.year for y in official)
        status: dict[date, bool] = {}
        for year in official:
            off, worked = year.days_off(), frozenset(year.makeup_working_days)
            if off & worked:
                raise ValueError(f"{year.notice}: {sorted(off & worked)} both off and worked")
            status.update({d: False for d in off})
            status.update({d: True for d in worked})
        closures, extra = frozenset(extra_closures), frozenset(extra_working_days)
        if closures & extra:
            both = ", ".join(d.isoformat() for d in sorted(closures & extra))
            raise ValueError(f"center calendar both closes and opens {both}")
        status.update({d: False for d in closures})
        status.update({d: True for d in extra})
        self._status = status
        exceptions = sorted(d for d, working in status.items() if working != (d.weekday() not in WEEKEND))
        self._exception_days = exceptions
        self._exception_sums = [0]
        for d in exceptions:
            self._exception_sums.append(self._exception_sums[-1] + (1 if status[d] else -1))
        self._fallback_years: set[int] = set()
        # Pure in (d, n) for this calendar; the years are noted when a result is first computed
        # (noting is idempotent: a cached answer's years were noted when it was computed).
        self._add_working_cached = lru_cache(maxsize=65536)(self._add_working_noted)
        self._sub_working_cached = lru_cache(maxsize=65536)(self._sub_working_noted)
        self._add_natural_cached = lru_cache(maxsize=65536)(self._add_natural_noted)
        self._w_of: dict[date, int] = {}  # W(d), asked for the same few hundred days over and over

    @classmethod
    def for_center(cls, override: CenterOverride, official: Iterable[OfficialYear] = OFFICIAL_YEARS) -> WorkCalendar:
        """The official calendar with a center's closures and extra working days applied on top."""
        return cls(official, extra_closures=override.closures, extra_working_days=override.working_days)

    # -- what a day is --------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """True if `d` is a working day (工作日) at this center."""
        self._note_years(d, d)
        return self._is_working(d)

    def working_index(self, d: date) -> int:
        """W(d): the number of working days up to and including `d`, from a fixed origin."""
        self._note_years(d, d)
        return self._w(d)

    def working_days_between(self, a: date, b: date) -> int:
        """W(b) − W(a): working days after `a` up to and including `b` (negative if b < a)."""
        self._note_years(min(a, b), max(a, b))
        return self._w(b) - self._w(a)

    # -- day arithmetic ---------------------------------------------------------------

    def add_working(self, d: date, n: int) -> date:
        """The working day e with W(e) = W(d) + n: n working days after `d`, `d` not counted.

        For n ≥ 1 this is the contract's add_working (民法典 第201条; 行政许可法 第82条).
        n = 0 (an item to be done the same day, 即办) means `d` itself if it is a working
        day, otherwise the next working day after it — the same rule as add_natural(d, 0).
        """
        if n < 0:
            raise ValueError(f"add_working: n must be >= 0, got {n}")
        return self._add_working_cached(d, n)

    def sub_working(self, d: date, n: int) -> date:
        """The working day e with W(e) = W(d) − n (n ≥ 1): n working days back, counting `d` if worked."""
        if n < 1:
            raise ValueError(f"sub_working: n must be >= 1, got {n}")
        return self._sub_working_cached(d, n)

    def add_natural(self, d: date, n: int) -> date:
        """d + n calendar days; if that is not a working day, the next working day (民法典 第203条)."""
        if n < 0:
            raise ValueError(f"add_natural: n must be >= 0, got {n}")
        return self._add_natural_cached(d, n)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        result = self._next_working(d)
        self._note_years(d, result)
        return result

    # -- where the official data ends -------------------------------------------------

    def missing_years(self, years: Iterable[int]) -> list[int]:
        """The years among `years` with no official notice in the table (they use Monday–Friday)."""
        return sorted({y for y in years if y not in self.official_years})

    @property
    def fallback_years_used(self) -> frozenset[int]:
        """Years this calendar has been asked about that fell back to Monday–Friday."""
        return frozenset(self._fallback_years)

    # -- internals -------------------------------------------------------------------

    def _is_working(self, d: date) -> bool:
        status = self._status.get(d)
        return status if status is not None else d.weekday() not in WEEKEND

    def _w(self, d: date) -> int:
        w = self._w_of.get(d)
        if w is None:
            w = _weekdays_through(d.toordinal()) + self._exception_sums[bisect.bisect_right(self._exception_days, d)]
            if len(self._w_of) >= 100_000:
                self._w_of.clear()
            self._w_of[d] = w
        return w

    def _next_working(self, d: date) -> date:
        return self._add_working(d, 1)

    def _add_working_noted(self, d: date, n: int) -> date:
        result = self._add_working(d, n)
        self._note_years(d, result)
        return result

    def _add_natural_noted(self, d: date, n: int) -> date:
        end = d + timedelta(days=n)
        result = end if self._is_working(end) else self._next_working(end)
        self._note_years(d, result)
        return result

    def _sub_working_noted(self, d: date, n: int) -> date:
        target = self._w(d) - n
        lo = d - timedelta(days=2 * n + 14)
        while self._w(lo) >= target:
            lo -= timedelta(days=(d - lo).days)
        result = self._first_reaching(target, lo, d)
        self._note_years(result, d)
        return result

    def _add_working(self, d: date, n: int) -> date:
        if n == 0:
            return d if self._is_working(d) else self._add_working(d, 1)
        target = self._w(d) + n
        hi = d + timedelta(days=2 * n + 14)
        while self._w(hi) < target:
            hi += timedelta(days=(hi - d).days)
        return self._first_reaching(target, d, hi)

    def _first_reaching(self, target: int, lo: date, hi: date) -> date:
        """The earliest date in (lo, hi] with W >= target, given W(lo) < target <= W(hi)."""
        lo_ord, hi_ord = lo.toordinal(), hi.toordinal()
        while hi_ord - lo_ord > 1:
            mid = (lo_ord + hi_ord) // 2
            if self._w(date.fromordinal(mid)) >= target:
                hi_ord = mid
            else:
                lo_ord = mid
        return date.fromordinal(hi_ord)

    def _note_years(self, first: date, last: date) -> None:
        for year in range(first.year, last.year + 1):
            if year not in self.official_years and year not in self._fallback_years:
                self._fallback_years.add(year)
                log.warning(
                    "no official holiday notice for %d in the calendar table: "
                    "counting Monday-Friday as working days for %d (add the State Council's notice)",
                    year,
                    year,
                )


# -- a center's calendar file -----------------------------------------------------------

_OVERRIDE_KEYS = ("closures", "working_days")


def parse_center_override(text: str) -> CenterOverride:
    """Parse a center's calendar file (TOML) into a CenterOverride.

    The file has two optional keys, each a list of dates (TOML dates or "YYYY-MM-DD"
    strings)::

        closures = ["2026-03-05"]        # local closures (e.g. a typhoon day)
        working_days = ["2026-03-08"]    # extra working days

    Raises ValueError naming the line and the value that is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"center calendar is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_OVERRIDE_KEYS))
    if unknown:
        key = unknown[0]
        raise ValueError(
            f"{_where(text, key)}center calendar has unknown key {key!r} (expected 'closures' or 'working_days')"
        )
    parsed = {key: _parse_dates(text, key, data.get(key, [])) for key in _OVERRIDE_KEYS}
    both = parsed["closures"] & parsed["working_days"]
    if both:
        first = min(both).isoformat()
        raise ValueError(f"{_where(text, first)}{first} is listed both in closures and in working_days")
    return CenterOverride(closures=parsed["closures"], working_days=parsed["working_days"])


def _parse_dates(text: str, key: str, values: object) -> frozenset[date]:
    if not isinstance(values, list):
        raise ValueError(f"{_where(text, key)}{key} must be a list of dates, got {values!r}")
    days = set()
    for i, value in enumerate(values):
        if type(value) is date:  # a TOML date; a TOML datetime is not a day
            days.add(value)
            continue
        try:
            if not isinstance(value, str):
                raise ValueError
            days.add(date.fromisoformat(value))
        except ValueError:
            raise ValueError(
                f"{_where(text, str(value))}{key}[{i}] = {value!r} is not a date (write YYYY-MM-DD)"
            ) from None
    return frozenset(days)


def _where(text: str, needle: str) -> str:
    """'line N: ' for the first line of `text` containing `needle`, or '' if none does."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line.split("#", 1)[0]:
            return f"line {number}: "
    return ""
