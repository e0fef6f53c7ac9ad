"""Working-day arithmetic, worked out by hand around the 2025–2026 holidays."""

import logging
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendar import CenterOverride, WorkCalendar, parse_center_override

D = date.fromisoformat
CAL = WorkCalendar()


@pytest.mark.parametrize(
    "start, n, due",
    [
        # National Day 2025: off 10-01..10-08, make-up Sun 09-28 and Sat 10-11
        ("2025-09-26", 1, "2025-09-28"),  # 09-28 is a make-up Sunday: it counts
        ("2025-09-26", 2, "2025-09-29"),
        ("2025-09-30", 1, "2025-10-09"),  # the whole 8-day block is skipped
        ("2025-09-30", 3, "2025-10-11"),  # 10-11 is a make-up Saturday: it counts
        ("2025-09-30", 4, "2025-10-13"),  # 10-12 is an ordinary Sunday
        ("2025-09-30", 5, "2025-10-14"),
        ("2025-10-01", 1, "2025-10-09"),  # start day not counted even if it is a holiday (民法典 第201条)
        ("2025-10-04", 1, "2025-10-09"),
        # Spring Festival 2026: off 02-15..02-23, make-up Sat 02-14 and Sat 02-28
        ("2026-02-13", 1, "2026-02-14"),  # 02-14 is a make-up Saturday: it counts
        ("2026-02-13", 2, "2026-02-24"),
        ("2026-02-12", 5, "2026-02-26"),  # 13, 14, 24, 25, 26
        ("2026-02-24", 4, "2026-02-28"),  # 02-28 is a make-up Saturday: it counts
        ("2026-02-24", 5, "2026-03-02"),
        # New Year 2026: off 01-01..01-03, make-up Sun 01-04
        ("2025-12-31", 1, "2026-01-04"),  # a limit crossing the year boundary lands on a Sunday
        # Labour Day 2026: off 05-01..05-05, make-up Sat 05-09
        ("2026-04-30", 1, "2026-05-06"),
        ("2026-04-30", 4, "2026-05-09"),
        # Mid-Autumn and National Day 2026: off 09-25..09-27 and 10-01..10-07, make-up Sun 09-20, Sat 10-10
        ("2026-09-18", 1, "2026-09-20"),  # 09-20 is a make-up Sunday: it counts
        ("2026-09-24", 1, "2026-09-28"),  # Friday 09-25 is Mid-Autumn
        ("2026-09-30", 1, "2026-10-08"),
        ("2026-09-30", 3, "2026-10-10"),  # 2026-10-10 is a make-up Saturday: it counts
        ("2026-09-30", 4, "2026-10-12"),
        ("2026-09-28", 5, "2026-10-10"),  # a receipt clock (5 working days) ending on a make-up Saturday
        # an ordinary week
        ("2026-03-06", 1, "2026-03-09"),  # Friday + 1 = Monday
        ("2026-03-07", 1, "2026-03-09"),  # Saturday start: not counted
        ("2026-03-02", 20, "2026-03-30"),  # four full weeks after a Monday
    ],
)
def test_add_working(start, n, due):
    assert CAL.add_working(D(start), n) == D(due)


@pytest.mark.parametrize(
    "start, due",
    [
        ("2026-03-02", "2026-03-02"),  # n = 0 on a working day: the day itself
        ("2026-10-03", "2026-10-08"),  # n = 0 in a holiday: the next working day
        ("2026-02-14", "2026-02-14"),  # n = 0 on a make-up Saturday: the day itself
    ],
)
def test_add_working_zero_days(start, due):
    assert CAL.add_working(D(start), 0) == D(due)


@pytest.mark.parametrize(
    "start, n, due",
    [
        ("2025-09-21", 10, "2025-10-09"),  # lands on 10-01 in the National Day block → first working day after
        ("2026-02-05", 10, "2026-02-24"),  # lands on 02-15 (Spring Festival) → 02-24
        ("2026-02-04", 10, "2026-02-14"),  # lands on a make-up Saturday: a working day, it stays
        ("2026-03-02", 5, "2026-03-09"),  # lands on an ordinary Saturday → Monday
        ("2026-09-10", 20, "2026-09-30"),  # lands on a working Wednesday
        ("2026-09-11", 20, "2026-10-08"),  # lands on 10-01 → 10-08
        ("2026-10-03", 0, "2026-10-08"),
        ("2025-12-22", 10, "2026-01-04"),  # lands on 01-01 2026 → the make-up Sunday 01-04
    ],
)
def test_add_natural(start, n, due):
    assert CAL.add_natural(D(start), n) == D(due)


@pytest.mark.parametrize(
    "a, b, days",
    [
        ("2025-09-30", "2025-10-11", 3),  # 10-09, 10-10, 10-11 (make-up Saturday)
        ("2026-02-13", "2026-02-24", 2),  # 02-14, 02-24
        ("2026-02-15", "2026-02-23", 0),  # wholly inside Spring Festival
        ("2026-02-24", "2026-02-13", -2),
        ("2026-03-02", "2026-03-02", 0),
    ],
)
def test_working_days_between(a, b, days):
    assert CAL.working_days_between(D(a), D(b)) == days


@pytest.mark.parametrize(
    "day, n, back",
    [
        ("2026-02-24", 1, "2026-02-14"),
        ("2026-02-24", 2, "2026-02-13"),
        ("2026-10-12", 2, "2026-10-09"),  # 10-10 make-up Saturday counts
        ("2026-10-05", 1, "2026-09-29"),  # W(10-05) = W(09-30): one back from a holiday is 09-29
    ],
)
def test_sub_working(day, n, back):
    assert CAL.sub_working(D(day), n) == D(back)


@pytest.mark.parametrize(
    "day, nxt",
    [
        ("2026-02-14", "2026-02-24"),
        ("2026-10-09", "2026-10-10"),  # make-up Saturday
        ("2026-03-06", "2026-03-09"),
    ],
)
def test_next_working_day(day, nxt):
    assert CAL.next_working_day(D(day)) == D(nxt)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        CAL.add_working(D("2026-03-02"), -1)
    with pytest.raises(ValueError):
        CAL.add_natural(D("2026-03-02"), -1)
    with pytest.raises(ValueError):
        CAL.sub_working(D("2026-03-02"), 0)


# -- years with no official data ---------------------------------------------------------


def test_a_year_without_a_notice_falls_back_to_monday_friday_and_says_so_once(caplog):
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="rules.calendar"):
        assert cal.is_working_day(D("2030-01-01")) is True  # Tuesday; New Year unknown for 2030
        assert cal.is_working_day(D("2030-01-05")) is False  # Saturday
        cal.add_working(D("2030-03-01"), 3)
    assert cal.fallback_years_used == {2030}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2030" in warnings[0].getMessage()


def test_official_years_raise_no_warning(caplog):
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="rules.calendar"):
        cal.add_working(D("2026-09-30"), 30)
    assert cal.fallback_years_used == frozenset()
    assert caplog.records == []


def test_a_limit_running_into_an_unknown_year_is_reported():
    cal = WorkCalendar()
    assert cal.add_working(D("2026-12-31"), 1) == D("2027-01-01")  # Friday; 2027 New Year not yet known
    assert cal.fallback_years_used == {2027}


def test_missing_years():
    assert CAL.missing_years([2019, 2020, 2026, 2027, 2027]) == [2019, 2027]


def test_an_empty_official_table_is_plain_monday_friday():
    cal = WorkCalendar(official=())
    assert cal.is_working_day(D("2025-10-01")) is True
    assert cal.add_working(D("2025-09-26"), 1) == D("2025-09-29")


# -- a center's own calendar ---------------------------------------------------------------

CENTER = WorkCalendar(extra_closures=[D("2026-03-05"), D("2026-02-28")], extra_working_days=[D("2026-03-08")])


@pytest.mark.parametrize(
    "start, n, due",
    [
        ("2026-03-04", 1, "2026-03-06"),  # Thursday 03-05 closed by the center (e.g. a typhoon)
        ("2026-03-06", 1, "2026-03-08"),  # Sunday 03-08 opened by the center
        ("2026-02-24", 4, "2026-03-02"),  # the center closed the official make-up Saturday 02-28
        ("2026-02-13", 1, "2026-02-14"),  # official days still apply on top
    ],
)
def test_center_override_applies_on_top_of_official_days(start, n, due):
    assert CENTER.add_working(D(start), n) == D(due)


def test_center_cannot_both_close_and_open_a_day():
    with pytest.raises(ValueError, match="2026-03-05"):
        WorkCalendar(extra_closures=[D("2026-03-05")], extra_working_days=[D("2026-03-05")])


def test_parse_center_override():
    text = '# 南宁市民中心\nclosures = ["2026-03-05", 2026-03-06]\nworking_days = ["2026-03-08"]\n'
    override = parse_center_override(text)
    assert override == CenterOverride(
        closures=frozenset({D("2026-03-05"), D("2026-03-06")}), working_days=frozenset({D("2026-03-08")})
    )
    assert WorkCalendar.for_center(override).add_working(D("2026-03-04"), 1) == D("2026-03-08")


def test_parse_empty_center_override():
    assert parse_center_override("") == CenterOverride()


@pytest.mark.parametrize(
    "text, message",
    [
        (
            'closures = ["2026-03-05"]\nworking_days = ["2026-02-30"]\n',
            r"line 2: working_days\[0\] = '2026-02-30' is not a date",
        ),
        ('closures = ["2026-03-05", "next tuesday"]\n', r"line 1: closures\[1\] = 'next tuesday' is not a date"),
        ("closures = [2026-03-05T09:00:00]\n", r"closures\[0\] = .* is not a date"),  # a datetime is not a day
        ("closures = [20260305]\n", r"closures\[0\] = 20260305 is not a date"),
        ('closures = "2026-03-05"\n', r"line 1: closures must be a list of dates"),
        ('\nclosure = ["2026-03-05"]\n', r"line 2: center calendar has unknown key 'closure'"),
        ('closures = ["2026-03-05"]\nworking_days = ["2026-03-05"]\n', r"2026-03-05 is listed both"),
        ('closures = ["2026-03-05"\n', r"not valid TOML: Unclosed array"),
        ('closures = ["2026-03-05"]\nclosures = []\n', r"not valid TOML.*line 2"),
    ],
)
def test_parse_center_override_names_the_bad_line_and_value(text, message):
    with pytest.raises(ValueError, match=message):
        parse_center_override(text)


# -- properties -----------------------------------------------------------------------------

days = st.dates(min_value=D("2019-10-01"), max_value=D("2027-03-31"))
counts = st.integers(min_value=1, max_value=60)
overrides = st.builds(
    lambda closed, opened: WorkCalendar(extra_closures=closed - opened, extra_working_days=opened - closed),
    st.frozensets(st.dates(min_value=D("2025-09-01"), max_value=D("2026-03-31")), max_size=20),
    st.frozensets(st.dates(min_value=D("2025-09-01"), max_value=D("2026-03-31")), max_size=20),
)
calendars = st.one_of(st.just(CAL), overrides)
PROPS = settings(max_examples=250, deadline=None)


def brute_count(cal, a, b):
    """Working days in (a, b], by walking day by day."""
    return sum(cal.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


@PROPS
@given(calendars, days, counts)
def test_add_working_lands_on_the_nth_working_day(cal, d, n):
    e = cal.add_working(d, n)
    assert cal.is_working_day(e)
    assert cal.working_index(e) == cal.working_index(d) + n
    assert brute_count(cal, d, e) == n  # independent of W


@PROPS
@given(calendars, days, counts, counts)
def test_add_working_composes(cal, d, a, b):
    assert cal.add_working(cal.add_working(d, a), b) == cal.add_working(d, a + b)


@PROPS
@given(calendars, days, st.integers(min_value=0, max_value=60))
def test_add_natural_is_the_first_working_day_on_or_after_d_plus_n(cal, d, n):
    e = cal.add_natural(d, n)
    floor = d + timedelta(days=n)
    assert e >= floor and cal.is_working_day(e)
    assert not any(cal.is_working_day(floor + timedelta(days=i)) for i in range((e - floor).days))


@PROPS
@given(calendars, days, days)
def test_working_days_between_counts_working_days(cal, a, b):
    a, b = min(a, b), max(a, b)
    assert cal.working_days_between(a, b) == brute_count(cal, a, b)
    assert cal.working_days_between(b, a) == -brute_count(cal, a, b)


@PROPS
@given(calendars, days, counts)
def test_sub_working_undoes_add_working(cal, d, n):
    # W(e) = W(d): d itself, or the last working day before a day off
    start = d if cal.is_working_day(d) else cal.sub_working(cal.next_working_day(d), 1)
    assert cal.sub_working(cal.add_working(d, n), n) == start


@PROPS
@given(calendars, days)
def test_next_working_day_is_add_working_one(cal, d):
    nxt = cal.next_working_day(d)
    assert nxt == cal.add_working(d, 1) and nxt > d
    assert not any(cal.is_working_day(d + timedelta(days=i)) for i in range(1, (nxt - d).days))
