"""The State Council's yearly holiday notices (国务院办公厅关于部分节假日安排的通知), as data.

One block per year, copied from the notice it names. Each block lists every
date off (放假, including the weekend days inside a holiday block) and every
make-up working day (调休上班日). Nothing here is computed from a lunar
calendar: a day is off or worked because a notice says so.

Changes of law, where they happen:
- 国务院关于修改《全国年节及纪念日放假办法》的决定 (国务院令第795号, 2024-11-10),
  in force from 2025-01-01: Spring Festival gains New Year's Eve (除夕) and Labour
  Day gains 2 May, 13 statutory days instead of 11; and, save special cases, no
  more than 6 consecutive working days before or after a holiday (new 第七条).
- 国办发明电〔2020〕1号 extended the 2020 Spring Festival to 2 February because of
  COVID-19, so Saturday 1 February 2020 stopped being a make-up working day.

When the State Council publishes next year's notice (usually in November), add
a block below; tests/rules cross-check every block against two independent
libraries. A year with no block falls back to Monday–Friday (see calendar.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class Holiday:
    """One holiday block of a notice: every date from `first` to `last` inclusive is off."""

    name: str
    first: date
    last: date

    def dates(self) -> list[date]:
        """Every date of the block, first to last."""
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True, slots=True)
class OfficialYear:
    """What the State Council's notice for `year` says: days off and make-up working days."""

    year: int
    notice: str
    published: date
    holidays: tuple[Holiday, ...]
    makeup_working_days: tuple[date, ...]
    amended_by: str = ""

    def days_off(self) -> frozenset[date]:
        """Every date off that the notice lists (weekend days inside a block included)."""
        return frozenset(d for h in self.holidays for d in h.dates())


def _d(text: str) -> date:
    return date.fromisoformat(text)


OFFICIAL_YEARS: tuple[OfficialYear, ...] = (
    OfficialYear(
        year=2020,
        notice="国办发明电〔2019〕16号 国务院办公厅关于2020年部分节假日安排的通知",
        published=_d("2019-11-21"),
        amended_by="国办发明电〔2020〕1号 关于延长2020年春节假期的通知",
        holidays=(
            Holiday("元旦 New Year's Day", _d("2020-01-01"), _d("2020-01-01")),
            # Notice: 1月24日至30日; extended to 2月2日 by 国办发明电〔2020〕1号.
            Holiday("春节 Spring Festival", _d("2020-01-24"), _d("2020-02-02")),
            Holiday("清明节 Qingming", _d("2020-04-04"), _d("2020-04-06")),
            Holiday("劳动节 Labour Day", _d("2020-05-01"), _d("2020-05-05")),
            Holiday("端午节 Dragon Boat", _d("2020-06-25"), _d("2020-06-27")),
            Holiday("国庆节、中秋节 National Day, Mid-Autumn", _d("2020-10-01"), _d("2020-10-08")),
        ),
        makeup_working_days=(
            _d("2020-01-19"),  # Sunday. (2月1日 Saturday was cancelled by the extension.)
            _d("2020-04-26"),  # Sunday
            _d("2020-05-09"),  # Saturday
            _d("2020-06-28"),  # Sunday
            _d("2020-09-27"),  # Sunday
            _d("2020-10-10"),  # Saturday
        ),
    ),
    OfficialYear(
        year=2021,
        notice="国办发明电〔2020〕27号 国务院办公厅关于2021年部分节假日安排的通知",
        published=_d("2020-11-25"),
        holidays=(
            Holiday("元旦 New Year's Day", _d("2021-01-01"), _d("2021-01-03")),
            Holiday("春节 Spring Festival", _d("2021-02-11"), _d("2021-02-17")),
            Holiday("清明节 Qingming", _d("2021-04-03"), _d("2021-04-05")),
            Holiday("劳动节 Labour Day", _d("2021-05-01"), _d("2021-05-05")),
            Holiday("端午节 Dragon Boat", _d("2021-06-12"), _d("2021-06-14")),
            Holiday("中秋节 Mid-Autumn", _d("2021-09-19"), _d("2021-09-21")),
            Holiday("国庆节 National Day", _d("2021-10-01"), _d("2021-10-07")),
        ),
        makeup_working_days=(
            _d("2021-02-07"),  # Sunday
            _d("2021-02-20"),  # Saturday
            _d("2021-04-25"),  # Sunday
            _d("2021-05-08"),  # Saturday
            _d("2021-09-18"),  # Saturday
            _d("2021-09-26"),  # Sunday
            _d("2021-10-09"),  # Saturday
        ),
    ),
    OfficialYear(
        year=2022,
        notice="国办发明电〔2021〕11号 国务院办公厅关于2022年部分节假日安排的通知",
        published=_d("2021-10-25"),
        holidays=(
            Holiday("元旦 New Year's Day", _d("2022-01-01"), _d("2022-01-03")),
            Holiday("春节 Spring Festival", _d("2022-01-31"), _d("2022-02-06")),
            Holiday("清明节 Qingming", _d("2022-04-03"), _d("2022-04-05")),
            Holiday("劳动节 Labour Day", _d("2022-04-30"), _d("2022-05-04")),
            Holiday("端午节 Dragon Boat", _d("2022-06-03"), _d("2022-06-05")),
            Holiday("中秋节 Mid-Autumn", _d("2022-09-10"), _d("2022-09-12")),
            Holiday("国庆节 National Day", _d("2022-10-01"), _d("2022-10-07")),
        ),
        makeup_working_days=(
            _d("2022-01-29"),  # Saturday
            _d("2022-01-30"),  # Sunday
            _d("2022-04-02"),  # Saturday
            _d("2022-04-24"),  # Sunday
            _d("2022-05-07"),  # Saturday
            _d("2022-10-08"),  # Saturday
            _d("2022-10-09"),  # Sunday
        ),
    ),
    OfficialYear(
        year=2023,
        notice="国办发明电〔2022〕16号 国务院办公厅关于2023年部分节假日安排的通知",
        published=_d("2022-12-08"),
        holidays=(
            # The notice's New Year block starts in the previous year.
            Holiday("元旦 New Year's Day", _d("2022-12-31"), _d("2023-01-02")),
            Holiday("春节 Spring Festival", _d("2023-01-21"), _d("2023-01-27")),
            Holiday("清明节 Qingming", _d("2023-04-05"), _d("2023-04-05")),
            Holiday("劳动节 Labour Day", _d("2023-04-29"), _d("2023-05-03")),
            Holiday("端午节 Dragon Boat", _d("2023-06-22"), _d("2023-06-24")),
            Holiday("中秋节、国庆节 Mid-Autumn, National Day", _d("2023-09-29"), _d("2023-10-06")),
        ),
        makeup_working_days=(
            _d("2023-01-28"),  # Saturday
            _d("2023-01-29"),  # Sunday
            _d("2023-04-23"),  # Sunday
            _d("2023-05-06"),  # Saturday
            _d("2023-06-25"),  # Sunday
            _d("2023-10-07"),  # Saturday
            _d("2023-10-08"),  # Sunday
        ),
    ),
    OfficialYear(
        year=2024,
        notice="国办发明电〔2023〕7号 国务院办公厅关于2024年部分节假日安排的通知",
        published=_d("2023-10-25"),
        holidays=(
            # "1月1日放假，与周末连休": the weekend before is an ordinary weekend.
            Holiday("元旦 New Year's Day", _d("2024-01-01"), _d("2024-01-01")),
            Holiday("春节 Spring Festival", _d("2024-02-10"), _d("2024-02-17")),
            Holiday("清明节 Qingming", _d("2024-04-04"), _d("2024-04-06")),
            Holiday("劳动节 Labour Day", _d("2024-05-01"), _d("2024-05-05")),
            Holiday("端午节 Dragon Boat", _d("2024-06-10"), _d("2024-06-10")),
            Holiday("中秋节 Mid-Autumn", _d("2024-09-15"), _d("2024-09-17")),
            Holiday("国庆节 National Day", _d("2024-10-01"), _d("2024-10-07")),
        ),
        makeup_working_days=(
            _d("2024-02-04"),  # Sunday
            _d("2024-02-18"),  # Sunday
            _d("2024-04-07"),  # Sunday
            _d("2024-04-28"),  # Sunday
            _d("2024-05-11"),  # Saturday
            _d("2024-09-14"),  # Saturday
            _d("2024-09-29"),  # Sunday
            _d("2024-10-12"),  # Saturday
        ),
    ),
    # From 2025 on: 国务院令第795号 adds 除夕 and 5月2日 as statutory days.
    OfficialYear(
        year=2025,
        notice="国办发明电〔2024〕12号 国务院办公厅关于2025年部分节假日安排的通知",
        published=_d("2024-11-12"),
        holidays=(
            Holiday("元旦 New Year's Day", _d("2025-01-01"), _d("2025-01-01")),
            Holiday("春节 Spring Festival", _d("2025-01-28"), _d("2025-02-04")),
            Holiday("清明节 Qingming", _d("2025-04-04"), _d("2025-04-06")),
            Holiday("劳动节 Labour Day", _d("2025-05-01"), _d("2025-05-05")),
            Holiday("端午节 Dragon Boat", _d("2025-05-31"), _d("2025-06-02")),
            Holiday("国庆节、中秋节 National Day, Mid-Autumn", _d("2025-10-01"), _d("2025-10-08")),
        ),
        makeup_working_days=(
            _d("2025-01-26"),  # Sunday
            _d("2025-02-08"),  # Saturday
            _d("2025-04-27"),  # Sunday
            _d("2025-09-28"),  # Sunday
            _d("2025-10-11"),  # Saturday
        ),
    ),
    OfficialYear(
        year=2026,
        notice="国办发明电〔2025〕7号 国务院办公厅关于2026年部分节假日安排的通知",
        published=_d("2025-11-04"),
        holidays=(
            Holiday("元旦 New Year's Day", _d("2026-01-01"), _d("2026-01-03")),
            Holiday("春节 Spring Festival", _d("2026-02-15"), _d("2026-02-23")),
            Holiday("清明节 Qingming", _d("2026-04-04"), _d("2026-04-06")),
            Holiday("劳动节 Labour Day", _d("2026-05-01"), _d("2026-05-05")),
            Holiday("端午节 Dragon Boat", _d("2026-06-19"), _d("2026-06-21")),
            Holiday("中秋节 Mid-Autumn", _d("2026-09-25"), _d("2026-09-27")),
            Holiday("国庆节 National Day", _d("2026-10-01"), _d("2026-10-07")),
        ),
        makeup_working_days=(
            _d("2026-01-04"),  # Sunday
            _d("2026-02-14"),  # Saturday
            _d("2026-02-28"),  # Saturday
            _d("2026-05-09"),  # Saturday
            _d("2026-09-20"),  # Sunday
            _d("2026-10-10"),  # Saturday
        ),
    ),
)
