"""Low ratings, their rectification, and cameras going dark."""

from datetime import date, timedelta

import pytest

from rules.cameras import OFFLINE_AFTER, camera_offline
from rules.ratings import Rating, low_satisfaction, next_change, rectification_overdue, rectify_by
from tests.rules.builders import CAL, TZ, at

# rated Tuesday 2026-09-29: 15 working days → 10-26 (National Day skipped, 10-10 make-up Saturday counts)
LOW = Rating(1, 40, at("2026-09-29 10:00"), case_no="C1", center_id="CTR", dept_id="D1", window_id="W1", staff_id="S1")


@pytest.mark.parametrize(
    "score, warned",
    [(59, True), (60, False), (0, True), (100, False), (None, False)],  # 60 is not below 60
)
def test_low_satisfaction_below_60(score, warned):
    f = low_satisfaction(Rating(1, score, at("2026-09-29 10:00"), case_no="C1"))
    assert (f is not None) is warned
    if warned:
        assert (f.kind, f.level, f.fired_at, f.subject, f.ended_at) == (
            "low_satisfaction",
            "warning",
            at("2026-09-29 10:00"),
            "onsite:1",
            None,
        )


def test_low_satisfaction_ends_when_rectified():
    assert low_satisfaction(LOW, at("2026-10-09 10:00")).ended_at == at("2026-10-09 10:00")


def test_sms_reply_has_its_own_subject():
    assert low_satisfaction(Rating(1, 20, at("2026-09-29 10:00"), source="sms")).subject == "sms:1"


def test_the_rectification_due_date_and_the_instant_its_alarm_fires():
    assert rectify_by(LOW, CAL, TZ) == (date(2026, 10, 26), at("2026-10-27 00:00"))


@pytest.mark.parametrize(
    "score, followed_up_at, now, expected",
    [
        (40, None, at("2026-09-29 09:00"), at("2026-09-29 10:00")),  # a rating given later: its warning first
        (40, None, at("2026-09-29 10:00"), at("2026-10-27 00:00")),  # then the rectification deadline
        (40, at("2026-10-09 10:00"), at("2026-09-30 10:00"), at("2026-10-09 10:00")),  # a follow-up on record
        (40, at("2026-10-09 10:00"), at("2026-10-09 10:00"), None),  # followed up in time: nothing more changes
        (40, at("2026-10-28 10:00"), at("2026-10-27 00:00"), at("2026-10-28 10:00")),  # late: it ends the alarm
        (80, None, at("2026-09-29 09:00"), None),  # not low: no alarms at all
    ],
)
def test_the_next_instant_a_ratings_alarms_change(score, followed_up_at, now, expected):
    rating = Rating(1, score, at("2026-09-29 10:00"), case_no="C1")
    assert next_change(rating, followed_up_at, CAL, now, TZ) == expected


@pytest.mark.parametrize(
    "rectified, now, fired, ended",
    [
        (None, "2026-10-26 23:59:59.999", None, None),  # the last day to follow up
        (None, "2026-10-27 00:00", "2026-10-27 00:00", None),
        ("2026-10-26 23:59:59.999", "2026-11-01 00:00", None, None),  # rectified in time
        ("2026-10-27 00:00", "2026-11-01 00:00", "2026-10-27 00:00", "2026-10-27 00:00"),  # a moment late
        ("2026-10-28 10:00", "2026-10-27 12:00", "2026-10-27 00:00", None),  # rectified later than now: not yet
    ],
)
def test_rectification_overdue_after_15_working_days(rectified, now, fired, ended):
    f = rectification_overdue(LOW, rectified and at(rectified), CAL, at(now), TZ)
    if fired is None:
        assert f is None
    else:
        assert (f.kind, f.fired_at, f.ended_at, f.due) == (
            "rectification_overdue",
            at(fired),
            ended and at(ended),
            date(2026, 10, 26),
        )
        assert (f.dept_id, f.window_id, f.staff_id) == ("D1", "W1", "S1")


def test_a_good_rating_needs_no_rectification():
    assert rectification_overdue(Rating(2, 80, at("2026-09-29 10:00")), None, CAL, at("2026-12-01 00:00"), TZ) is None


LAST = at("2026-03-02 10:00:00")


@pytest.mark.parametrize(
    "now, back, fired, ended",
    [
        (LAST + timedelta(seconds=29.999), None, None, None),
        (LAST + OFFLINE_AFTER, None, LAST + OFFLINE_AFTER, None),  # fired at last frame + 30 s, not when noticed
        (LAST + timedelta(minutes=5), LAST + timedelta(minutes=3), LAST + OFFLINE_AFTER, LAST + timedelta(minutes=3)),
        (LAST + timedelta(minutes=5), LAST + timedelta(seconds=20), None, None),  # a short gap is no outage
    ],
)
def test_camera_offline(now, back, fired, ended):
    f = camera_offline("K123", LAST, now, frames_back_at=back, place=("CTR", "D1", "W1", None))
    if fired is None:
        assert f is None
    else:
        assert (f.kind, f.camera_id, f.fired_at, f.ended_at, f.case_no, f.window_id) == (
            "camera_offline",
            "K123",
            fired,
            ended,
            None,
            "W1",
        )
        assert f.subject == LAST.isoformat()  # one alarm per outage


def test_camera_threshold_is_configurable():
    assert camera_offline("K1", LAST, LAST + timedelta(seconds=45), threshold=timedelta(seconds=60)) is None
    assert camera_offline("K1", LAST, LAST + timedelta(seconds=60), threshold=timedelta(seconds=60)) is not None
