"""Sending hours with an injected clock: 08:00 opens, 21:00 closes, local time."""

from __future__ import annotations

from datetime import UTC, time

import pytest

from app.sms.hours import SendingHours

from .conftest import CST, local

DAY = SendingHours(time(8), time(21), CST)
NIGHT = SendingHours(time(22), time(6), CST)  # a window across midnight


@pytest.mark.parametrize(
    "now,open_,next_open",
    [
        ("2026-11-27 07:59:59", False, "2026-11-27 08:00"),  # one second early: held
        ("2026-11-27 08:00", True, "2026-11-27 08:00"),  # the opening instant counts
        ("2026-11-27 20:59:59", True, "2026-11-27 20:59:59"),
        ("2026-11-27 21:00", False, "2026-11-28 08:00"),  # the closing instant does not
        ("2026-11-27 23:30", False, "2026-11-28 08:00"),
        ("2026-11-28 00:00", False, "2026-11-28 08:00"),
        ("2026-12-31 22:00", False, "2027-01-01 08:00"),  # over a year end
    ],
)
def test_day_window(now, open_, next_open):
    assert DAY.is_open(local(now)) is open_
    assert DAY.next_open(local(now)) == local(next_open)


def test_utc_instants_are_judged_in_local_time():
    # 23:30 UTC is 07:30 the next morning in Shanghai: still closed; 00:00 UTC is 08:00 local.
    assert not DAY.is_open(local("2026-11-28 07:30").astimezone(UTC))
    assert DAY.is_open(local("2026-11-28 08:00").astimezone(UTC))


@pytest.mark.parametrize(
    "now,open_,next_open",
    [
        ("2026-11-27 21:59", False, "2026-11-27 22:00"),
        ("2026-11-27 23:00", True, "2026-11-27 23:00"),
        ("2026-11-28 05:59", True, "2026-11-28 05:59"),
        ("2026-11-28 06:00", False, "2026-11-28 22:00"),
    ],
)
def test_window_across_midnight(now, open_, next_open):
    assert NIGHT.is_open(local(now)) is open_
    assert NIGHT.next_open(local(now)) == local(next_open)
