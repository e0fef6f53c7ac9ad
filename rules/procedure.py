"""What happened to a case, in event-time order: the procedure (办理流程) and its anomalies.

`read_history` walks a case's events sorted by (occurred_at, event_id), as the
contract requires whatever order they arrived in, and says which event answered
the receipt, which ended the case, which steps and special procedures ran, and
which events broke the procedure (procedure_anomaly). It decides nothing about
time limits: clocks.py does.

Choices where the contract is silent (also in DECISIONS.md):
- The first ending event (completed, rejected, withdrawn) is final. Events after it
  change nothing; a later one is an anomaly (event_after_end), except a `delivered`
  after an approved completion (expected), a second `completed` (duplicate_completion)
  and an `accepted` after a rejection (accepted_after_rejection). An event at the
  same instant as the end is simultaneous, not after it.
- Only the first `received` counts; a second one is ignored.
- The first `step_started` of a step_id opens that step; another start of the same
  step_id is ignored. A `step_completed` with no open step of that id is
  step_end_without_start (the same for special procedures).
- `delivered` before the completion is ignored (nothing to deliver yet).
- A completion with no `accepted` before it is completed_without_acceptance, even if
  the case counted as accepted because the receipt clock was missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from rules._make import maker
from rules.events import Event, duplicate_key

ENDING_KINDS = ("completed", "rejected", "withdrawn")
RECEIPT_ANSWERS = ("correction_notice", "accepted", "rejected")


@dataclass(frozen=True, slots=True)
class Span:
    """A step (审批环节) or a special procedure (特别程序): its start and, once it came, its end."""

    id: str
    started: Event
    ended: Event | None
    limit_days: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """The first event that broke the procedure for one reason (procedure_anomaly subject)."""

    reason: str
    event: Event


@dataclass(frozen=True, slots=True)
class CaseHistory:
    """A case's events at or before an instant, read in event-time order."""

    received: Event
    events: tuple[Event, ...]
    first_answer: Event | None
    accepted: Event | None
    correction_notices: tuple[Event, ...]
    end: Event | None
    steps: tuple[Span, ...]
    specials: tuple[Span, ...]
    extensions: tuple[Event, ...]
    delivered: Event | None
    anomalies: tuple[Anomaly, ...]


_new_span = maker(Span)
_new_anomaly = maker(Anomaly)
_new_history = maker(CaseHistory)
_BY_ID = attrgetter("event_id")
_BY_TIME = attrgetter("occurred_at")


def ordered(events: Iterable[Event], now: datetime) -> list[Event]:
    """The events that had happened by `now`, exact repeats dropped, sorted by (occurred_at, event_id)."""
    events = list(events)
    zone = events[0].occurred_at.tzinfo if events else None
    return _ordered(events, now, all(e.occurred_at.tzinfo is zone for e in events))


def _ordered(events: list[Event], now: datetime, one_zone: bool) -> list[Event]:
    """ordered(); `one_zone` says every occurred_at has the same tzinfo object.

    Then instants compare as plain fields, a total order that agrees with ==: two stable
    sorts (by id, then by time) give the (occurred_at, event_id) order, and the events
    that share an instant are next to each other, so only they are compared as repeats.
    Otherwise (zones mixed, where == and < of datetimes need not agree) it goes the long way.
    """
    result: list[Event] = []
    if one_zone:
        timeline = sorted(events, key=_BY_ID)
        timeline.sort(key=_BY_TIME)
        same: list[Event] = []  # the events kept so far at the instant of the last one
        last = None
        for event in timeline:
            at = event.occurred_at
            if at > now:
                continue
            if same and at == last:
                # Events that share case, kind and instant are rare; only they need their payloads compared.
                twins = [e for e in same if e.kind == event.kind and e.case_no == event.case_no]
                if twins:
                    key = duplicate_key(event)
                    if any(duplicate_key(earlier) == key for earlier in twins):
                        continue
                same.append(event)
            else:
                same, last = [event], at
            result.append(event)
        return result
    seen: dict[tuple, list[Event]] = {}
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        if event.occurred_at > now:
            continue
        same = seen.setdefault((event.case_no, event.kind, event.occurred_at), [])
        if same:
            key = duplicate_key(event)
            if any(duplicate_key(earlier) == key for earlier in same):
                continue
        same.append(event)
        result.append(event)
    return result


def read_history(events: Iterable[Event], now: datetime) -> CaseHistory | None:
    """Read a case's procedure from its events as of `now`; None if it has no `received` yet."""
    events = list(events)
    zone = events[0].occurred_at.tzinfo if events else None
    return _read(events, now, all(e.occurred_at.tzinfo is zone for e in events))


def _read(events: list[Event], now: datetime, one_zone: bool) -> CaseHistory | None:
    """read_history(), in one walk over the timeline (this runs for every case judged).

    `one_zone` as for _ordered; `now` may be any datetime that compares with the events
    as the caller's `now` does.
    """
    timeline = _ordered(events, now, one_zone)
    received = first_answer = accepted = end = delivered = None
    notices: list[Event] = []
    extensions: list[Event] = []
    steps: dict[str, list] = {}
    specials: dict[str, list] = {}
    anomalies: dict[str, Event] = {}
    for event in timeline:
        kind = event.kind
        if end is not None:
            # after the end: only what _after_end() lets through takes the ordinary walk
            end_kind = end.kind
            if kind == "completed" and end_kind == "completed":
                anomalies.setdefault("duplicate_completion", event)
                continue
            if kind == "accepted" and end_kind == "rejected":
                anomalies.setdefault("accepted_after_rejection", event)
                continue
            if kind == "delivered" and end_kind == "completed":
                if delivered is None:
                    delivered = event
                continue
            if event.occurred_at > end.occurred_at:
                anomalies.setdefault("event_after_end", event)
                continue
            if kind in _NOT_AFTER_END:
                continue
            # simultaneous with the end: steps and specials may still close
        if kind == "received":
            if received is None:
                received = event
        elif kind in RECEIPT_ANSWERS:
            if first_answer is None:
                first_answer = event
            if kind == "correction_notice":
                notices.append(event)
            elif kind == "accepted":
                if accepted is None:
                    accepted = event
            else:
                end = event
        elif kind == "completed" or kind == "withdrawn":
            if kind == "completed" and accepted is None:
                anomalies.setdefault("completed_without_acceptance", event)
            end = event
        elif kind == "step_started":
            steps.setdefault(event.payload["step_id"], [event, None])
        elif kind == "special_started":
            specials.setdefault(event.payload["special_id"], [event, None])
        elif kind == "step_completed" or kind == "special_ended":
            step = kind == "step_completed"
            span = (steps if step else specials).get(event.payload["step_id" if step else "special_id"])
            if span is None or span[1] is not None:
                anomalies.setdefault("step_end_without_start" if step else "special_end_without_start", event)
            else:
                span[1] = event
        elif kind == "extended":
            extensions.append(event)
        # correction_received: the applicant's materials; the case waits for `accepted`.
        # delivered before any completion: nothing to deliver yet, ignored.
    if received is None:
        return None
    return _new_history(
        received,
        tuple(timeline),
        first_answer,
        accepted,
        tuple(notices),
        end,
        _spans(steps),
        _spans(specials),
        tuple(extensions),
        delivered,
        tuple([_new_anomaly(reason, event) for reason, event in anomalies.items()]),
    )


_NOT_AFTER_END = frozenset(ENDING_KINDS + ("accepted", "received"))


def _spans(spans: dict[str, list]) -> tuple[Span, ...]:
    return tuple(
        [_new_span(span_id, start, end, start.payload["limit_days"]) for span_id, (start, end) in spans.items()]
    )
