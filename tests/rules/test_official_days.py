"""The official table, checked block by block and against two independent libraries.

chinese_calendar (holidays + make-up workdays per year) and python-holidays
(holidays.China: statutory days, 'Day off (substituted ...)' bridging weekdays and
`weekend_workdays`) are maintained by different people; our table is typed by hand
from the State Council's notices. Any disagreement fails here.
"""

import re
from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest
from chinese_calendar.constants import holidays as CC_HOLIDAYS
from chinese_calendar.constants import workdays as CC_WORKDAYS

from rules.calendar import WorkCalendar
from rules.official_days import OFFICIAL_YEARS

YEARS = [y.year for y in OFFICIAL_YEARS]
BY_YEAR = {y.year: y for y in OFFICIAL_YEARS}
OFFICIAL = WorkCalendar()


def days_of(year):
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += timedelta(days=1)


def table_days_off(year):
    """Days off listed by any notice that fall in `year` (a New Year block may start the year before)."""
    return {d for y in OFFICIAL_YEARS for d in y.days_off() if d.year == year}


def table_makeup_days(year):
    return {d for y in OFFICIAL_YEARS for d in y.makeup_working_days if d.year == year}


def test_table_covers_2020_to_2026_once_each():
    assert YEARS == list(range(2020, 2027))


@pytest.mark.parametrize("year", YEARS)
def test_block_is_well_formed(year):
    block = BY_YEAR[year]
    # the notice for year Y is 国办发明电〔Y-1〕N号, published in Y-1
    assert re.match(rf"国办发明电〔{year - 1}〕\d+号 国务院办公厅关于{year}年部分节假日安排的通知$", block.notice)
    assert block.published.year == year - 1
    assert all(d.weekday() >= 5 for d in block.makeup_working_days), "a make-up working day is a weekend day"
    assert not block.days_off() & set(block.makeup_working_days)
    for h in block.holidays:
        assert h.first <= h.last and (h.last - h.first).days < 10, h


@pytest.mark.parametrize(
    "year, notice",
    [
        # numbers checked against the published notices
        (2020, "国办发明电〔2019〕16号"),
        (2021, "国办发明电〔2020〕27号"),
        (2022, "国办发明电〔2021〕11号"),
        (2023, "国办发明电〔2022〕16号"),
        (2024, "国办发明电〔2023〕7号"),
        (2025, "国办发明电〔2024〕12号"),
        (2026, "国办发明电〔2025〕7号"),
    ],
)
def test_notice_numbers(year, notice):
    assert BY_YEAR[year].notice.startswith(notice + " ")


@pytest.mark.parametrize("year", YEARS)
def test_chinese_calendar_agrees_on_every_day(year):
    mismatches = [d for d in days_of(year) if chinese_calendar.is_workday(d) != OFFICIAL.is_working_day(d)]
    assert mismatches == []


# chinese_calendar counts the weekend before 2024-01-01 as New Year holiday; the 2024 notice
# says only "1月1日放假，与周末连休" (an ordinary weekend). Either way nobody works those days.
CC_KNOWN_EXTRA_DAYS_OFF = {date(2023, 12, 30), date(2023, 12, 31)}


@pytest.mark.parametrize("year", YEARS)
def test_chinese_calendar_lists_the_same_days_off_and_makeup_days(year):
    cc_off = {d for d in CC_HOLIDAYS if d.year == year}
    cc_work = {d for d in CC_WORKDAYS if d.year == year}
    assert cc_off - CC_KNOWN_EXTRA_DAYS_OFF == table_days_off(year)
    assert cc_work == table_makeup_days(year)


@pytest.mark.parametrize("year", YEARS)
def test_every_day_python_holidays_lists_is_off_in_our_table(year):
    # holidays.China lists statutory days and the weekday 'Day off (substituted ...)' days,
    # but not the weekend days inside a block: so it is a subset of our days off.
    listed = holidays.country_holidays("CN", years=year)
    assert len(listed) > 0, f"python-holidays has no data for {year}"
    assert [d for d in listed if OFFICIAL.is_working_day(d)] == []
    assert set(listed) <= table_days_off(year)


@pytest.mark.parametrize("year", YEARS)
def test_python_holidays_lists_exactly_our_weekday_days_off(year):
    # It also lists statutory days that fall on a weekend (2025-05-31); compare weekdays only.
    listed = {d for d in holidays.country_holidays("CN", years=year) if d.weekday() < 5}
    ours = {d for d in table_days_off(year) if d.weekday() < 5}
    assert listed == ours


@pytest.mark.parametrize("year", YEARS)
def test_python_holidays_weekend_workdays_are_our_makeup_days(year):
    cn = holidays.country_holidays("CN", years=year)
    assert {d for d in cn.weekend_workdays if d.year == year} == table_makeup_days(year)


@pytest.mark.parametrize("year", YEARS)
def test_python_holidays_agrees_on_every_day(year):
    cn = holidays.country_holidays("CN", years=year)
    assert [d for d in days_of(year) if cn.is_working_day(d) != OFFICIAL.is_working_day(d)] == []


@pytest.mark.parametrize(
    "day, working",
    [
        (date(2025, 1, 28), False),  # 除夕 is statutory from 2025 (国务院令第795号)
        (date(2024, 2, 9), True),  # 除夕 2024 was only "encouraged" off: officially a working day
        (date(2025, 5, 2), False),  # 5月2日 statutory from 2025
        (date(2025, 9, 28), True),  # make-up Sunday before National Day 2025
        (date(2025, 10, 11), True),  # make-up Saturday after National Day 2025
        (date(2025, 10, 8), False),  # last day of the 8-day National Day 2025 block
        (date(2026, 1, 4), True),  # make-up Sunday after New Year 2026
        (date(2026, 2, 14), True),  # make-up Saturday before Spring Festival 2026
        (date(2026, 2, 23), False),  # Monday, last day of Spring Festival 2026
        (date(2026, 2, 28), True),  # make-up Saturday after Spring Festival 2026
        (date(2026, 10, 10), True),  # make-up Saturday after National Day 2026
        (date(2026, 10, 8), True),  # National Day 2026 ends on the 7th
        (date(2020, 2, 1), False),  # make-up Saturday cancelled by the 2020 extension
        (date(2020, 1, 31), False),  # extended Spring Festival 2020
        (date(2022, 12, 31), False),  # 2023 notice's New Year block starts in 2022 (a Saturday anyway)
    ],
)
def test_landmark_days(day, working):
    assert OFFICIAL.is_working_day(day) is working
