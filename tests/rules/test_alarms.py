"""Alarm kinds and reconcile: stored alarms follow the facts, and nothing is ever deleted."""

from datetime import date, timedelta

import pytest

from rules.alarms import (
    ANOMALY_REASONS,
    CASE_KINDS,
    KINDS,
    AlarmFact,
    AlarmState,
    ClosedReason,
    Level,
    StoredAlarm,
    make_fact,
    reconcile,
)
from tests.rules.builders import E, at, fact, judge

OPEN, ACK, CLOSED = AlarmState.OPEN, AlarmState.ACKNOWLEDGED, AlarmState.CLOSED
RESOLVED, RETRACTED, MANUAL = ClosedReason.RESOLVED, ClosedReason.RETRACTED, ClosedReason.MANUAL
PLACE = ("CTR", "D1", "W1", "S1")
NOW = at("2026-10-14 10:00")


def test_the_fourteen_kinds_of_the_contract_the_two_of_supervision_orders_and_the_two_of_kongang():
    assert set(KINDS) - {"window_unattended", "window_unattended_long"} == {
        "promise_warning",
        "promise_overdue",
        "statutory_overdue",
        "receipt_unprocessed",
        "correction_late",
        "correction_repeated",
        "step_overdue",
        "special_overdue",
        "delivery_overdue",
        "fee_violation",
        "procedure_anomaly",
        "low_satisfaction",
        "rectification_overdue",
        "camera_offline",
        "order_overdue",  # rules/orders.py: feedback on a supervision order not given in time
        "not_supervised",  # rules/orders.py: a red alarm left without an order
    }
    warnings = {k for k, v in KINDS.items() if v.level is Level.WARNING}
    assert warnings == {"promise_warning", "low_satisfaction", "window_unattended"}
    assert KINDS["promise_warning"].label_zh == "承诺时限预警" and KINDS["promise_overdue"].label_zh == "承诺时限超期"
    assert set(ANOMALY_REASONS) == {
        "completed_without_acceptance",
        "accepted_after_rejection",
        "event_after_end",
        "special_end_without_start",
        "step_end_without_start",
        "duplicate_completion",
    }
    assert "camera_offline" not in CASE_KINDS and "promise_overdue" in CASE_KINDS
    assert "order_overdue" not in CASE_KINDS and "not_supervised" not in CASE_KINDS


def F(kind="promise_overdue", fired="2026-10-13 00:00", ended=None, due="2026-10-12", subject=""):
    return make_fact(
        kind,
        case_no="C1",
        subject=subject,
        fired_at=at(fired),
        ended_at=ended and at(ended),
        due=due and date.fromisoformat(due),
        place=PLACE,
    )


def S(
    kind="promise_overdue", state=OPEN, reason=None, fired="2026-10-13 00:00", due="2026-10-12", closed=None, subject=""
):
    return StoredAlarm(
        kind, "C1", subject, state, reason, at(fired), due and date.fromisoformat(due), closed and at(closed)
    )


def summary(changes):
    return [
        (c.action, c.kind, c.at.strftime("%m-%d %H:%M"), c.state.value, c.closed_reason and c.closed_reason.value)
        for c in changes
    ]


# (why, stored, facts, expected changes as (action, kind, at, state, closed_reason))
RECONCILE = [
    ("a new fact opens an alarm", [], [F()], [("fired", "promise_overdue", "10-13 00:00", "open", None)]),
    # history is evidence: an overdue that ended before anyone looked still happened
    (
        "a new fact already ended is stored fired then resolved",
        [],
        [F(ended="2026-10-13 09:00")],
        [
            ("fired", "promise_overdue", "10-13 00:00", "open", None),
            ("closed", "promise_overdue", "10-13 09:00", "closed", "resolved"),
        ],
    ),
    (
        "an open alarm whose condition ended is resolved",
        [S()],
        [F(ended="2026-10-14 09:00")],
        [("closed", "promise_overdue", "10-14 09:00", "closed", "resolved")],
    ),
    (
        "an acknowledged one too",
        [S(state=ACK)],
        [F(ended="2026-10-14 09:00")],
        [("closed", "promise_overdue", "10-14 09:00", "closed", "resolved")],
    ),
    ("nothing changed", [S()], [F()], []),
    ("an end after now is not an end yet", [S()], [F(ended="2026-10-15 09:00")], []),
    ("a fact that fires after now is not a fact yet", [], [F(fired="2026-10-15 00:00")], []),
    # a completion pushed late that predates the overdue instant: the alarm should never have fired
    (
        "an open alarm whose fact is gone is retracted",
        [S()],
        [],
        [("closed", "promise_overdue", "10-14 10:00", "closed", "retracted")],
    ),
    (
        "an acknowledged alarm whose fact is gone is retracted",
        [S(state=ACK)],
        [],
        [("closed", "promise_overdue", "10-14 10:00", "closed", "retracted")],
    ),
    # statistics count resolved alarms as having happened: a resolved one that never happened is retracted
    (
        "a resolved alarm whose fact is gone becomes retracted",
        [S(state=CLOSED, reason=RESOLVED)],
        [],
        [("closed", "promise_overdue", "10-14 10:00", "closed", "retracted")],
    ),
    ("a retracted alarm stays retracted", [S(state=CLOSED, reason=RETRACTED)], [], []),
    ("an officer's closing stands when the fact is gone", [S(state=CLOSED, reason=MANUAL)], [], []),
    ("an officer's closing stands when the fact holds", [S(state=CLOSED, reason=MANUAL)], [F()], []),
    # a warning ended by a pause and true again after it: a new episode of the same alarm
    (
        "a resolved alarm whose condition holds again reopens",
        [S("promise_warning", CLOSED, RESOLVED, "2026-10-10 00:00", closed="2026-10-10 10:00")],
        [F("promise_warning", fired="2026-10-14 00:00", due="2026-10-15")],
        [("reopened", "promise_warning", "10-14 00:00", "open", None)],
    ),
    (
        "a resolved alarm whose condition stays ended is left alone",
        [S(state=CLOSED, reason=RESOLVED)],
        [F(ended="2026-10-13 09:00")],
        [],
    ),
    (
        "a retracted alarm whose fact comes back reopens",
        [S(state=CLOSED, reason=RETRACTED, closed="2026-10-13 12:00")],
        [F()],
        [("reopened", "promise_overdue", "10-14 10:00", "open", None)],
    ),
    (
        "and is resolved again if its condition already ended",
        [S(state=CLOSED, reason=RETRACTED, closed="2026-10-13 12:00")],
        [F(ended="2026-10-14 09:00")],
        [
            ("reopened", "promise_overdue", "10-14 10:00", "open", None),
            ("closed", "promise_overdue", "10-14 09:00", "closed", "resolved"),
        ],
    ),
    (
        "late data moved the due date of an open alarm",
        [S("promise_warning", fired="2026-10-10 00:00")],
        [F("promise_warning", fired="2026-10-14 00:00", due="2026-10-15")],
        [("updated", "promise_warning", "10-14 10:00", "open", None)],
    ),
    # red supersedes yellow: the warning ends at the instant the overdue fires
    (
        "red supersedes yellow",
        [S("promise_warning", fired="2026-10-10 00:00")],
        [F("promise_warning", fired="2026-10-10 00:00", ended="2026-10-13 00:00"), F()],
        [
            ("closed", "promise_warning", "10-13 00:00", "closed", "resolved"),
            ("fired", "promise_overdue", "10-13 00:00", "open", None),
        ],
    ),
    ("alarms outside the scope are not touched", [S("camera_offline")], [], []),
    (
        "one alarm per subject",
        [S("step_overdue", subject="a")],
        [F("step_overdue", subject="a"), F("step_overdue", subject="b")],
        [("fired", "step_overdue", "10-13 00:00", "open", None)],
    ),
]


@pytest.mark.parametrize("why, stored, facts, expected", RECONCILE, ids=[r[0] for r in RECONCILE])
def test_reconcile(why, stored, facts, expected):
    assert summary(reconcile(stored, facts, NOW)) == expected


def test_changes_carry_the_fact_to_persist():
    [change] = reconcile([], [F()], NOW)
    assert change.fact == F() and change.stored is None
    assert (change.case_no, change.subject, change.fact.dept_id, change.fact.level) == ("C1", "", "D1", "alarm")
    [retraction] = reconcile([S()], [], NOW)
    assert retraction.fact is None and retraction.stored == S()


def test_scope_can_be_widened_for_other_alarm_kinds():
    camera = S("camera_offline")
    assert summary(reconcile([camera], [], NOW, scope={"camera_offline"})) == [
        ("closed", "camera_offline", "10-14 10:00", "closed", "retracted")
    ]


def stored_from(changes, stored=()):
    """Apply changes to a dict of stored alarms, as ingest would."""
    alarms = {s.key: s for s in stored}
    for c in changes:
        key = (c.kind, c.case_no, c.subject)
        old = alarms.get(key)
        fired_at = c.fact.fired_at if c.action in ("fired", "updated") else old.fired_at
        due = c.fact.due if c.fact else old.due
        closed_at = c.at if c.state is CLOSED else None
        alarms[key] = StoredAlarm(c.kind, c.case_no, c.subject, c.state, c.closed_reason, fired_at, due, closed_at)
    return list(alarms.values())


BASIC = [E("received", "2026-09-28 09:00"), E("accepted", "2026-09-29 10:00")]  # promise due 10-12


def test_a_late_completion_that_predates_the_overdue_retracts_it():
    now = at("2026-10-14 08:00")
    stored = stored_from(reconcile([], judge(BASIC, "2026-10-14 08:00").alarms, now))
    assert {(s.kind, s.state, s.closed_reason) for s in stored} == {
        ("promise_warning", CLOSED, RESOLVED),  # red superseded yellow at 10-13 00:00
        ("promise_overdue", OPEN, None),
    }
    # the department's system pushes the completion a day late: it happened on the due date
    late = E("completed", "2026-10-12 16:00", recorded="2026-10-14 09:00", result="approved")
    j = judge(BASIC + [late], "2026-10-14 10:00")
    assert j.on_time is True
    changes = reconcile(stored, j.alarms, at("2026-10-14 10:00"))
    assert summary(changes) == [("closed", "promise_overdue", "10-14 10:00", "closed", "retracted")]
    # the warning did happen (10-10 00:00 until the completion) and stays resolved
    assert fact(j, "promise_warning").ended_at == at("2026-10-12 16:00")


def test_running_reconcile_again_changes_nothing():
    j = judge(BASIC, "2026-10-14 08:00")
    stored = stored_from(reconcile([], j.alarms, at("2026-10-14 08:00")))
    assert reconcile(stored, j.alarms, at("2026-10-14 08:00")) == []
    assert reconcile(stored, judge(BASIC, "2026-10-14 09:00").alarms, at("2026-10-14 09:00")) == []


def test_fact_is_active_between_firing_and_end():
    f = F(ended="2026-10-13 09:00")
    assert not f.active_at(at("2026-10-12 23:59:59.999"))
    assert f.active_at(at("2026-10-13 00:00"))
    assert not f.active_at(at("2026-10-13 09:00"))
    assert isinstance(f, AlarmFact) and f.key == ("promise_overdue", "C1", "")
    assert F().active_at(NOW + timedelta(days=365))
