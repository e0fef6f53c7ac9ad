"""When applicants come: daily volumes by center and calendar, and arrival times by office hours.

Guangxi's offices keep summer and winter hours (夏令/冬令作息): 08:00–12:00 all
year, afternoons 15:00–18:00 from May to September and 14:30–17:30 otherwise.
Window arrivals peak mid-morning and mid-afternoon; online applications come
round the clock, mostly in the daytime and evening. Centers are closed on days
that are not working days; make-up Saturdays (调休上班日) are working days.
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import date
from itertools import accumulate
from typing import Protocol

CASES_PER_WORKING_DAY = 26_000  # the whole region: ≈6.6 million cases a year
ONLINE_SHARE = 0.40  # share of applications made online (全程网办)
OFF_DAY_ONLINE = 0.08  # online applications on a weekend, relative to a working day
HOLIDAY_ONLINE = 0.03  # … on a public holiday

# Monday … Friday, then a make-up Saturday/Sunday
WEEKDAY_FACTOR = (1.15, 1.05, 1.0, 0.95, 0.85, 0.8, 0.8)
AFTER_A_BREAK = 1.3  # first working day after three or more days off


class Calendar(Protocol):
    """The part of rules.calendar.WorkCalendar the simulator uses."""

    def is_working_day(self, d: date) -> bool: ...
    def add_working(self, d: date, n: int) -> date: ...
    def next_working_day(self, d: date) -> date: ...


def office_periods(d: date) -> tuple[tuple[int, int], tuple[int, int]]:
    """Morning and afternoon opening hours of `d`, in seconds after local midnight."""
    afternoon = (15 * 3600, 18 * 3600) if 5 <= d.month <= 9 else (14 * 3600 + 1800, 17 * 3600 + 1800)
    return (8 * 3600, 12 * 3600), afternoon


def _window_curve(afternoon_start: int) -> tuple[list[int], list[float]]:
    """Minute starts and cumulative weights of window arrivals: a morning and an afternoon peak."""
    minutes, weights = [], []
    for start, end, peak in (
        (8 * 3600, 12 * 3600, 10 * 3600),
        (afternoon_start, afternoon_start + 3 * 3600, afternoon_start + 5400),
    ):
        for second in range(start, end - 600, 60):  # nobody is served in the last 10 minutes
            minutes.append(second)
            weights.append(0.35 + math.exp(-(((second - peak) / 3600) ** 2) * 1.5))
    return minutes, list(accumulate(weights))


_WINDOW_CURVES = {15 * 3600: _window_curve(15 * 3600), 14 * 3600 + 1800: _window_curve(14 * 3600 + 1800)}
# Online applications by hour of the day (relative)
_ONLINE_HOURS = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 3, 7, 10, 10, 9, 6, 5, 7, 9, 9, 8, 6, 6, 6, 5, 4, 2)
_ONLINE_CUM = list(accumulate(_ONLINE_HOURS))


def window_arrival(rng: random.Random, d: date) -> int:
    """Seconds after local midnight at which a window applicant is served."""
    minutes, cum = _WINDOW_CURVES[office_periods(d)[1][0]]
    i = bisect.bisect_left(cum, rng.random() * cum[-1])
    return minutes[i] + rng.randrange(60)


def online_arrival(rng: random.Random) -> int:
    """Seconds after local midnight at which an online application is submitted."""
    hour = bisect.bisect_left(_ONLINE_CUM, rng.random() * _ONLINE_CUM[-1])
    return hour * 3600 + rng.randrange(3600)


def work_time(rng: random.Random, d: date, after: int = 0) -> int | None:
    """A moment within office hours of `d` not before `after` (seconds after midnight); None if the day is over."""
    (m0, m1), (a0, a1) = office_periods(d)
    m0, a0 = max(m0, after), max(a0, after)
    morning = max(0, m1 - 60 - m0)
    afternoon = max(0, a1 - 60 - a0)
    if not morning + afternoon:
        return None
    x = rng.randrange(morning + afternoon)
    return m0 + x if x < morning else a0 + x - morning


def day_factor(calendar: Calendar, d: date) -> float:
    """How busy a working day is compared with an average one (Mondays and days after a holiday more)."""
    factor = WEEKDAY_FACTOR[d.weekday()]
    days_off = 0
    back = d.toordinal() - 1
    while days_off < 3 and not calendar.is_working_day(date.fromordinal(back)):
        days_off += 1
        back -= 1
    return factor * (AFTER_A_BREAK if days_off >= 3 else 1.0)


def draw_count(rng: random.Random, mean: float) -> int:
    """A day's count around `mean` (normal approximation of a Poisson draw)."""
    if mean <= 0:
        return 0
    if mean < 30:
        # Knuth's method is fine for small means
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))
