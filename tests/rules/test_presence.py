"""空岗 (window unattended): only office time counts, camera faults never make one, an empty seat ends when someone sits."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.alarms import KINDS, Level, reconcile
from rules.calendar import WorkCalendar
from rules.presence import RED, YELLOW, Office, OfficeHours, office_minutes, window_unattended

ZONE = ZoneInfo("Asia/Shanghai")
OFFICE = Office(WorkCalendar(), ZONE)
PLACE = ("C1", "D1", "W1", None)


def at(day: str, clock: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), ZONE)


def judge(since, now, **kw):
    return {f.kind: f for f in window_unattended(since, now, kw.pop("office", OFFICE), place=PLACE, **kw)}


def test_yellow_at_fifteen_minutes_red_at_thirty_and_the_yellow_gives_way():
    since = at("2026-12-03", "09:40")  # a Thursday
    assert judge(since, at("2026-12-03", "09:54:59")) == {}
    facts = judge(since, at("2026-12-03", "09:55"))
    assert set(facts) == {YELLOW} and facts[YELLOW].fired_at == at("2026-12-03", "09:55")
    assert facts[YELLOW].level is Level.WARNING and facts[YELLOW].window_id == "W1"
    facts = judge(since, at("2026-12-03", "10:30"))
    assert facts[RED].fired_at == at("2026-12-03", "10:10") and KINDS[RED].level is Level.ALARM
    assert facts[YELLOW].ended_at == at("2026-12-03", "10:10")  # resolved when the red one fires
    assert facts[YELLOW].subject == facts[RED].subject == "W1 " + since.isoformat()


def test_someone_sitting_down_resolves_it_and_a_short_absence_raises_nothing():
    since = at("2026-12-03", "10:00")
    facts = judge(since, at("2026-12-03", "11:00"), empty_until=at("2026-12-03", "10:20"))
    assert set(facts) == {YELLOW} and facts[YELLOW].ended_at == at("2026-12-03", "10:20")
    assert not facts[YELLOW].active_at(at("2026-12-03", "10:21"))
    assert judge(since, at("2026-12-03", "11:00"), empty_until=at("2026-12-03", "10:14")) == {}


def test_the_lunch_break_pauses_the_count_without_resetting_it():
    since = at("2026-12-03", "11:55")
    assert judge(since, at("2026-12-03", "13:30")) == {}  # 5 minutes of office time so far
    assert judge(since, at("2026-12-03", "13:40"))[YELLOW].fired_at == at("2026-12-03", "13:40")
    # empty only during lunch: nothing
    assert judge(at("2026-12-03", "12:01"), at("2026-12-03", "13:35"), empty_until=at("2026-12-03", "13:29")) == {}


def test_the_lunch_break_is_configurable_or_absent():
    no_lunch = Office(WorkCalendar(), ZONE, OfficeHours(lunch=None))
    assert judge(at("2026-12-03", "12:00"), at("2026-12-03", "12:15"), office=no_lunch)[YELLOW]
    late_lunch = Office(WorkCalendar(), ZONE, OfficeHours(lunch=(time(12, 30), time(14, 0))))
    assert judge(at("2026-12-03", "12:00"), at("2026-12-03", "12:15"), office=late_lunch)[YELLOW]
    with pytest.raises(ValueError, match="lunch break"):
        OfficeHours(lunch=(time(8), time(9, 30)))


def test_a_make_up_saturday_counts_and_an_ordinary_saturday_does_not():
    assert judge(at("2026-10-10", "09:00"), at("2026-10-10", "09:20"))[YELLOW]  # 调休上班日
    assert judge(at("2026-10-17", "09:00"), at("2026-10-17", "11:00")) == {}


def test_a_holiday_raises_nothing():
    assert judge(at("2026-10-02", "09:00"), at("2026-10-02", "16:00")) == {}  # 国庆节, a Friday


def test_a_center_closure_raises_nothing_and_its_extra_working_day_counts():
    calendar = WorkCalendar(extra_closures=[date(2026, 12, 3)], extra_working_days=[date(2026, 12, 5)])
    office = Office(calendar, ZONE)
    assert judge(at("2026-12-03", "09:00"), at("2026-12-03", "16:00"), office=office) == {}
    assert judge(at("2026-12-05", "09:00"), at("2026-12-05", "09:15"), office=office)[YELLOW]


def test_a_window_closed_for_the_day_raises_nothing_that_day_only():
    closed = {date(2026, 12, 3)}
    assert judge(at("2026-12-03", "09:00"), at("2026-12-03", "16:00"), closed_days=closed) == {}
    facts = judge(at("2026-12-03", "09:00"), at("2026-12-04", "09:15"), closed_days=closed)
    assert facts[YELLOW].fired_at == at("2026-12-04", "09:15")


def test_a_camera_offline_during_the_absence_is_never_a_false_kongang():
    since = at("2026-12-03", "10:00")
    # the camera fails 10 minutes in and stays off: the empty stretch ends there, nothing fires
    off = [(at("2026-12-03", "10:10"), None)]
    assert judge(since, at("2026-12-03", "11:00"), camera_faults=off) == {}
    # it fails after the yellow fired: that alarm closes at the fault, no red follows
    off = [(at("2026-12-03", "10:20"), at("2026-12-03", "10:50"))]
    facts = judge(since, at("2026-12-03", "11:30"), camera_faults=off)
    assert set(facts) == {YELLOW} and facts[YELLOW].ended_at == at("2026-12-03", "10:20")
    # a stretch the video reports from inside a fault counts only from the camera's return
    facts = judge(
        at("2026-12-03", "10:00"), at("2026-12-03", "10:40"), camera_faults=[(since, at("2026-12-03", "10:30"))]
    )
    assert facts == {}
    assert judge(since, at("2026-12-03", "10:45"), camera_faults=[(since, at("2026-12-03", "10:30"))])[YELLOW]


def test_an_absence_that_crosses_the_end_of_office_hours_ends_there_and_the_next_day_counts_afresh():
    since = at("2026-12-03", "16:40")
    facts = judge(since, at("2026-12-03", "23:00"))
    assert facts[YELLOW].fired_at == at("2026-12-03", "16:55")
    assert facts[YELLOW].ended_at == at("2026-12-03", "17:00")  # the office day ended
    # still empty next morning: a new 空岗 from the opening, its own subject
    facts = window_unattended(since, at("2026-12-04", "09:40"), OFFICE, place=PLACE)
    mornings = [f for f in facts if f.fired_at.date() == date(2026, 12, 4)]
    assert [(f.kind, f.fired_at) for f in mornings] == [
        (YELLOW, at("2026-12-04", "09:15")),
        (RED, at("2026-12-04", "09:30")),
    ]
    assert mornings[0].subject == "W1 " + at("2026-12-04", "09:00").isoformat()
    # empty from 16:50: 10 minutes that day, nothing fires before the next morning's 09:15
    assert judge(at("2026-12-03", "16:50"), at("2026-12-04", "09:14")) == {}


def test_an_open_alarm_stays_open_until_the_day_ends_and_reconciles_once():
    since = at("2026-12-03", "09:00")
    now = at("2026-12-03", "09:20")
    facts = window_unattended(since, now, OFFICE, place=PLACE)
    changes = reconcile([], facts, now, scope={YELLOW, RED})
    assert [(c.action, c.kind) for c in changes] == [("fired", YELLOW)]
    assert facts[0].active_at(now)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="limits"):
        window_unattended(
            at("2026-12-03", "09:00"),
            at("2026-12-03", "10:00"),
            OFFICE,
            limits=(timedelta(minutes=30), timedelta(minutes=15)),
        )


def test_attendance_is_the_occupied_minutes_in_office_time():
    occupied = [
        (at("2026-12-03", "08:30"), at("2026-12-03", "12:30")),
        (at("2026-12-03", "13:00"), at("2026-12-03", "18:00")),
    ]
    assert office_minutes(occupied, OFFICE) == 180 + 210
    assert office_minutes([(at("2026-10-02", "09:00"), at("2026-10-02", "17:00"))], OFFICE) == 0
