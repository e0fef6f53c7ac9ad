"""When an alarm counts as escalated (rules.escalation): the board's view and the sweep's record."""

from datetime import UTC, datetime, timedelta

import pytest

from rules.escalation import escalated_at, is_escalated

LIMIT = timedelta(minutes=30)
FIRED = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
AT_LIMIT = FIRED + LIMIT


def minutes(n: int) -> datetime:
    return FIRED + timedelta(minutes=n)


@pytest.mark.parametrize(
    "state, now, expected",
    [
        ("open", minutes(29), False),
        ("open", minutes(30), True),  # the boundary instant escalates
        ("acknowledged", minutes(300), False),  # an acknowledged alarm never shows as escalated
        ("closed", minutes(300), False),
    ],
)
def test_the_board_shows_an_open_alarm_past_its_limit_as_escalated(state, now, expected):
    assert is_escalated(state, FIRED, now, LIMIT) is expected


@pytest.mark.parametrize(
    "acknowledged_at, closed_at, now, expected",
    [
        (None, None, minutes(29), None),  # not yet
        (None, None, minutes(30), AT_LIMIT),  # recorded at the limit, not when the sweep noticed
        (None, None, minutes(999), AT_LIMIT),
        (minutes(30), None, minutes(60), None),  # acknowledged at the boundary instant: in time
        (minutes(31), None, minutes(60), AT_LIMIT),  # acknowledged too late: still escalated
        (None, minutes(10), minutes(60), None),  # closed before the limit
        (None, minutes(45), minutes(60), AT_LIMIT),  # closed after it: history says it was left too long
    ],
)
def test_the_sweep_records_the_instant_the_limit_passed_unacknowledged(acknowledged_at, closed_at, now, expected):
    assert escalated_at(FIRED, acknowledged_at, closed_at, now, LIMIT) == expected
