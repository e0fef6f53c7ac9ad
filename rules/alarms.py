"""Alarms (告警): the kinds, the facts judged from data, their life, and reconciling the two.

A fact (`AlarmFact`) is what the rules conclude from the data at an instant: this
condition became true at `fired_at` and, maybe, stopped being true at `ended_at`.
A stored alarm is what officers see and act on. `reconcile` turns the difference
between the two into the changes to persist and publish. Nothing is ever deleted:
a fired alarm is evidence, even when later data retracts it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Level(StrEnum):
    WARNING = "warning"  # yellow
    ALARM = "alarm"  # red


@dataclass(frozen=True, slots=True)
class AlarmKind:
    level: Level
    label_zh: str
    label_en: str


KINDS: dict[str, AlarmKind] = {
    "promise_warning": AlarmKind(Level.WARNING, "承诺时限预警", "Promise deadline near"),
    "promise_overdue": AlarmKind(Level.ALARM, "承诺时限超期", "Promise deadline passed"),
    "statutory_overdue": AlarmKind(Level.ALARM, "法定时限超期", "Statutory deadline passed"),
    "receipt_unprocessed": AlarmKind(Level.ALARM, "收件逾期未处理", "Receipt not answered in 5 working days"),
    "correction_late": AlarmKind(Level.ALARM, "补正告知超时", "Correction notice late"),
    "correction_repeated": AlarmKind(Level.ALARM, "多次补正告知", "Correction notice repeated"),
    "step_overdue": AlarmKind(Level.ALARM, "审批环节超期", "Approval step overdue"),
    "special_overdue": AlarmKind(Level.ALARM, "特别程序超期", "Special procedure overdue"),
    "delivery_overdue": AlarmKind(Level.ALARM, "送达超期", "Delivery overdue"),
    "fee_violation": AlarmKind(Level.ALARM, "违规收费", "Fee above the standard"),
    "procedure_anomaly": AlarmKind(Level.ALARM, "程序异常", "Procedure anomaly"),
    "low_satisfaction": AlarmKind(Level.WARNING, "群众不满意", "Low satisfaction rating"),
    "rectification_overdue": AlarmKind(Level.ALARM, "整改超期", "Rectification overdue"),
    "camera_offline": AlarmKind(Level.ALARM, "视频离线", "Camera offline"),
    # Supervision orders (rules/orders.py): the loop's own clocks.
    "order_overdue": AlarmKind(Level.ALARM, "督办逾期未反馈", "Order feedback overdue"),
    "not_supervised": AlarmKind(Level.ALARM, "报警未督办", "Alarm left without an order"),
    "window_unattended": AlarmKind(Level.WARNING, "窗口空岗", "Window unattended"),
    "window_unattended_long": AlarmKind(Level.ALARM, "窗口空岗超时", "Window unattended too long"),
}

# The subjects of procedure_anomaly (semantics.md, "Alarms").
ANOMALY_REASONS: dict[str, str] = {
    "completed_without_acceptance": "未受理即办结",
    "accepted_after_rejection": "不予受理后又受理",
    "event_after_end": "办结后仍有过程信息",
    "special_end_without_start": "特别程序无开始即结束",
    "step_end_without_start": "审批环节无开始即结束",
    "duplicate_completion": "重复办结",
}

# The kinds judge_case concludes from a case's events; the others come from ratings and cameras.
CASE_KINDS: frozenset[str] = frozenset(KINDS) - {
    "low_satisfaction",
    "rectification_overdue",
    "camera_offline",
    "order_overdue",
    "not_supervised",
    "window_unattended",
    "window_unattended_long",
}


class AlarmState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # by an officer, with a note
    CLOSED = "closed"


class ClosedReason(StrEnum):
    RESOLVED = "resolved"  # its condition ended
    RETRACTED = "retracted"  # later data shows it should never have fired
    MANUAL = "manual"  # closed by an officer, with a note
    REVOKED = "revoked"  # an appeal upheld (申诉撤销): it should not stand, and counts nowhere


@dataclass(frozen=True, slots=True)
class AlarmFact:
    """An alarm condition judged from data: true from `fired_at`, until `ended_at` if that is set.

    `fired_at` is event time (the instant the condition became true, 00:00 local after a
    due date for a clock), never the moment the software noticed it.
    """

    kind: str
    level: Level
    case_no: str | None
    subject: str
    fired_at: datetime
    ended_at: datetime | None
    due: date | None
    center_id: str | None
    dept_id: str | None
    window_id: str | None
    staff_id: str | None
    camera_id: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str]:
        """One alarm per (kind, case_no, subject)."""
        return (self.kind, self.case_no, self.subject)

    def active_at(self, now: datetime) -> bool:
        """True if the condition holds at `now`."""
        return self.fired_at <= now and (self.ended_at is None or now < self.ended_at)


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    """What the supervision database holds for one alarm key."""

    kind: str
    case_no: str | None
    subject: str
    state: AlarmState
    closed_reason: ClosedReason | None
    fired_at: datetime
    due: date | None = None
    closed_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.case_no, self.subject)


@dataclass(frozen=True, slots=True)
class Change:
    """One transition to persist and publish.

    action: 'fired' (new alarm, open), 'closed' (state becomes closed with `closed_reason`;
    also used to turn a resolved alarm into a retracted one), 'reopened' (open again),
    'updated' (still open; late data moved its `fired_at` or `due`).
    `fact` is the judged fact (None for a retraction); `stored` the alarm as it was.
    """

    action: str
    kind: str
    case_no: str | None
    subject: str
    at: datetime
    state: AlarmState
    closed_reason: ClosedReason | None
    fact: AlarmFact | None
    stored: StoredAlarm | None


def make_fact(
    kind: str,
    *,
    case_no: str | None,
    subject: str,
    fired_at: datetime,
    ended_at: datetime | None,
    due: date | None,
    place: tuple[str | None, str | None, str | None, str | None],
    camera_id: str | None = None,
) -> AlarmFact:
    """An AlarmFact of `kind`, its level from KINDS; place = (center, dept, window, staff)."""
    center_id, dept_id, window_id, staff_id = place
    return AlarmFact(
        kind,
        KINDS[kind].level,
        case_no,
        subject,
        fired_at,
        ended_at,
        due,
        center_id,
        dept_id,
        window_id,
        staff_id,
        camera_id,
    )


def reconcile(
    stored: Iterable[StoredAlarm],
    facts: Iterable[AlarmFact],
    now: datetime,
    *,
    scope: Collection[str] = CASE_KINDS,
) -> list[Change]:
    """The changes that bring the stored alarms of one scope in line with the facts judged at `now`.

    Pass the stored alarms and the facts of the same scope (e.g. one case's alarms of
    the kinds in `scope`); stored alarms of other kinds are left alone.

    - a new fact → 'fired' (open); if it had already ended by `now`, also 'closed'
      resolved at its `ended_at` (it did happen: history is evidence);
    - an open or acknowledged alarm whose fact has ended → 'closed' resolved at `ended_at`;
    - an open, acknowledged or resolved alarm whose fact is gone → 'closed' retracted
      (late data shows it should never have fired; statistics must not count it);
    - a resolved or retracted alarm whose fact holds again → 'reopened' (a new episode,
      e.g. a warning after a pause, or a retraction undone by later data);
    - an alarm closed by an officer ('manual') is never reopened nor changed.
    """
    by_key = {alarm.key: alarm for alarm in stored if alarm.kind in scope}
    judged: dict[tuple, AlarmFact] = {}
    for fact in sorted(facts, key=lambda f: f.fired_at):
        if fact.kind in scope and fact.fired_at <= now:
            judged.setdefault(fact.key, fact)
    changes: list[Change] = []
    for key, fact in sorted(judged.items(), key=lambda kv: (kv[1].fired_at, kv[0])):
        changes += _follow(by_key.get(key), fact, now)
    for key, alarm in sorted(by_key.items(), key=lambda kv: (kv[1].fired_at, kv[0])):
        if key not in judged and _retractable(alarm):
            changes.append(_change("closed", alarm, now, AlarmState.CLOSED, ClosedReason.RETRACTED, None))
    return changes


def _follow(alarm: StoredAlarm | None, fact: AlarmFact, now: datetime) -> list[Change]:
    ended = fact.ended_at is not None and fact.ended_at <= now
    closed = ClosedReason.RESOLVED
    if alarm is None:
        fired = _change("fired", fact, fact.fired_at, AlarmState.OPEN, None, fact)
        return [fired, _change("closed", fact, fact.ended_at, AlarmState.CLOSED, closed, fact)] if ended else [fired]
    if alarm.state is not AlarmState.CLOSED:
        if ended:
            return [_change("closed", alarm, fact.ended_at, AlarmState.CLOSED, closed, fact)]
        if (fact.fired_at, fact.due) != (alarm.fired_at, alarm.due):
            return [_change("updated", alarm, now, alarm.state, None, fact)]
        return []
    if alarm.closed_reason is ClosedReason.RESOLVED and not ended:
        return [_change("reopened", alarm, _reopen_at(alarm, fact, now), AlarmState.OPEN, None, fact)]
    if alarm.closed_reason is ClosedReason.RETRACTED:
        reopened = _change("reopened", alarm, _reopen_at(alarm, fact, now), AlarmState.OPEN, None, fact)
        return (
            [reopened, _change("closed", alarm, fact.ended_at, AlarmState.CLOSED, closed, fact)]
            if ended
            else [reopened]
        )
    return []


def _retractable(alarm: StoredAlarm) -> bool:
    return alarm.state is not AlarmState.CLOSED or alarm.closed_reason is ClosedReason.RESOLVED


def _reopen_at(alarm: StoredAlarm, fact: AlarmFact, now: datetime) -> datetime:
    """When a closed alarm opens again: its fact's firing, unless that precedes the closing."""
    if alarm.closed_at is None or fact.fired_at >= alarm.closed_at:
        return fact.fired_at
    return now


def _change(action, subject_of, at, state, reason, fact) -> Change:
    stored = subject_of if isinstance(subject_of, StoredAlarm) else None
    return Change(action, subject_of.kind, subject_of.case_no, subject_of.subject, at, state, reason, fact, stored)
