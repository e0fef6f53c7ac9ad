"""Frozen copy of rules/procedure.py at commit e47c978, before it was optimised: the reference the
optimised code must match exactly (tests/rules/test_differential.py). Do not edit it.

The original docstring follows.

What happened to a case, in event-time order: the procedure (办理流程) and its anomalies.

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

from tests.rules.reference.events import Event, duplicate_key

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


def ordered(events: Iterable[Event], now: datetime) -> list[Event]:
    """The events that had happened by `now`, exact repeats dropped, sorted by (occurred_at, event_id)."""
    # Events that share case, kind and instant are rare; only they need their payloads compared.
    seen: dict[tuple, list[Event]] = {}
    result = []
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
    walk = _Walk()
    timeline = ordered(events, now)
    for event in timeline:
        walk.take(event)
    if walk.received is None:
        return None
    return CaseHistory(
        received=walk.received,
        events=tuple(timeline),
        first_answer=walk.first_answer,
        accepted=walk.accepted,
        correction_notices=tuple(walk.notices),
        end=walk.end,
        steps=tuple(_spans(walk.steps)),
        specials=tuple(_spans(walk.specials)),
        extensions=tuple(walk.extensions),
        delivered=walk.delivered,
        anomalies=tuple(Anomaly(reason, event) for reason, event in walk.anomalies.items()),
    )


class _Walk:
    def __init__(self) -> None:
        self.received: Event | None = None
        self.first_answer: Event | None = None
        self.accepted: Event | None = None
        self.notices: list[Event] = []
        self.end: Event | None = None
        self.steps: dict[str, list] = {}
        self.specials: dict[str, list] = {}
        self.extensions: list[Event] = []
        self.delivered: Event | None = None
        self.anomalies: dict[str, Event] = {}

    def take(self, event: Event) -> None:
        if self.end is not None and not self._after_end(event):
            return
        kind = event.kind
        if kind == "received":
            self.received = self.received or event
        elif kind in RECEIPT_ANSWERS:
            self.first_answer = self.first_answer or event
            if kind == "correction_notice":
                self.notices.append(event)
            elif kind == "accepted":
                self.accepted = self.accepted or event
            else:
                self.end = event
        elif kind in ("completed", "withdrawn"):
            if kind == "completed" and self.accepted is None:
                self._anomaly("completed_without_acceptance", event)
            self.end = event
        elif kind in ("step_started", "special_started"):
            spans = self.steps if kind == "step_started" else self.specials
            span_id = event.payload["step_id" if kind == "step_started" else "special_id"]
            spans.setdefault(span_id, [event, None])
        elif kind in ("step_completed", "special_ended"):
            self._close_span(event)
        elif kind == "extended":
            self.extensions.append(event)
        # correction_received: the applicant's materials; the case waits for `accepted`.
        # delivered before any completion: nothing to deliver yet, ignored.

    def _after_end(self, event: Event) -> bool:
        """Judge an event that comes after the end; True if it still needs the ordinary walk."""
        end = self.end
        if event.kind == "completed" and end.kind == "completed":
            self._anomaly("duplicate_completion", event)
        elif event.kind == "accepted" and end.kind == "rejected":
            self._anomaly("accepted_after_rejection", event)
        elif event.kind == "delivered" and end.kind == "completed":
            self.delivered = self.delivered or event
        elif event.occurred_at > end.occurred_at:
            self._anomaly("event_after_end", event)
        elif event.kind not in ENDING_KINDS + ("accepted", "received"):
            return True  # simultaneous with the end: steps and specials may still close
        return False

    def _close_span(self, event: Event) -> None:
        step = event.kind == "step_completed"
        spans = self.steps if step else self.specials
        span = spans.get(event.payload["step_id" if step else "special_id"])
        if span is None or span[1] is not None:
            self._anomaly("step_end_without_start" if step else "special_end_without_start", event)
        else:
            span[1] = event

    def _anomaly(self, reason: str, event: Event) -> None:
        self.anomalies.setdefault(reason, event)


def _spans(spans: dict[str, list]) -> list[Span]:
    return [Span(span_id, start, end, start.payload["limit_days"]) for span_id, (start, end) in spans.items()]
