"""What upstream systems make of a case's events on the way into the exchange database.

Each department's data is pushed by a source system (see region.Department.system).
Most push within seconds; some push hourly or nightly batches, so their rows
arrive late and out of event-time order; a few have clocks a few minutes off.
And a small share of rows arrive broken in every way semantics.md ("Bad input")
lists, so the ingest has something to set aside:

==========================  ===========================================================
bad row                     how it happens here
==========================  ===========================================================
null_case_no                the system lost the case number
null_kind                   the event type was not mapped
null_occurred_at            the system did not stamp the time
unparseable_occurred_at     garbage text in the time (SQLite only: TIMESTAMPTZ refuses
                            it; PostgreSQL gets a NULL instead, counted as null_occurred_at)
unknown_kind                a legacy or mistyped event name ('RECEIVED', '办结', …)
payload_not_object          JSON that is not an object, or (SQLite only) not JSON at all
payload_missing_field       a required payload field left out
unknown_item_code           a 'received' with an item code not in the catalogue
occurred_after_recorded     occurred_at more than 10 minutes after recorded_at
duplicate                   the same row pushed twice (a retry after a timeout)
orphan                      events of a case whose 'received' never arrives
==========================  ===========================================================
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import NamedTuple

from app.base.exchange import json_text
from app.simulate.cases import Event, LocalDays, Story
from app.simulate.region import Region

REALTIME, HOURLY, NIGHTLY = "realtime", "hourly", "nightly"
PUSH_MODES = ((REALTIME, 0.85), (HOURLY, 0.10), (NIGHTLY, 0.05))
SKEWED_CLOCKS = 0.10  # share of systems whose clock is a little off
RETRIED = 0.004  # share of a real-time system's rows held up by a network problem
LATE_AFTER = 600  # seconds: what the summary counts as a late row

ORPHAN = 0.001  # share of cases whose 'received' is never pushed
DUPLICATE = 0.003  # share of rows pushed twice
ROW_FAULTS = (  # share of rows, one fault at most per row
    ("null_case_no", 0.0005),
    ("null_kind", 0.0003),
    ("null_occurred_at", 0.0003),
    ("unparseable_occurred_at", 0.0003),
    ("unknown_kind", 0.0005),
    ("payload_not_object", 0.0005),
    ("payload_missing_field", 0.0010),
    ("unknown_item_code", 0.0020),
    ("occurred_after_recorded", 0.0005),
)
REQUIRED = {  # semantics.md, "Event kinds": payload fields without "optional"
    "rejected": ("reason",),
    "step_started": ("step_id", "limit_days"),
    "step_completed": ("step_id",),
    "special_started": ("special_id", "type", "limit_days"),
    "special_ended": ("special_id",),
    "extended": ("days",),
    "completed": ("result",),
}
UNKNOWN_KINDS = ("RECEIVED", "accept", "办结", "suspended", "approved", "step_start", "")
NOT_OBJECTS = ("[]", '"已受理"', "1", "true", '[{"step_id":"S1"}]')
NOT_JSON = ('{"step_id":"S1"', "{'step_id': 'S1'}", "step_id=S1", "")  # text that no JSON parser takes
BAD_TIMES = ("", "N/A", "0000-00-00 00:00:00", "2026/03/02 09:00", "yesterday", "2026-13-45T25:61:00+08:00")


class SourceSystem(NamedTuple):
    name: str
    mode: str
    skew: int  # seconds its clock is ahead (negative: behind)
    batch_offset: int  # seconds after the hour (hourly) or after midnight (nightly) it pushes
    empty_payload: str | None  # how it writes "no fields": NULL or '{}'


class Pushed(NamedTuple):
    """A row on its way into the exchange database, with what the summary needs to know about it.

    Ordered by (recorded, seq): the order rows reach the database in.
    """

    recorded: int
    seq: int  # tie-break among rows arriving the same second, set by the feed
    table: str  # 'case_events' or 'onsite_ratings'
    row: tuple  # case_events: case_no, kind, occurred_at, recorded_at, source_system, center_id,
    # dept_id, window_id, staff_id, item_code, payload; onsite_ratings: case_no,
    # window_id, staff_id, score, rated_at. Instants as epoch seconds (or garbage text).
    level: str | None  # the case's level, on the row that makes the case known (its 'received')
    bad: str | None
    late: str | None  # push mode that made the row late, if it is


def source_systems(region: Region, seed: int) -> dict[str, SourceSystem]:
    """Every upstream system of the region with its push behaviour, deterministic from `seed`."""
    rng = random.Random(f"systems:{seed}")
    names = sorted({d.system for d in region.departments})
    systems = {}
    for name in names:
        mode = rng.choices([m for m, _ in PUSH_MODES], weights=[w for _, w in PUSH_MODES])[0]
        skew = rng.randint(-120, 300) if rng.random() < SKEWED_CLOCKS else 0
        offset = rng.randint(60, 900) if mode == HOURLY else rng.randint(3600, 4 * 3600)
        systems[name] = SourceSystem(name, mode, skew, offset, None if rng.random() < 0.7 else "{}")
    return systems


class Upstream:
    """Turns stories into pushed rows: push times, clock skew and bad rows."""

    def __init__(self, systems: dict[str, SourceSystem], days: LocalDays, garbage_text: bool):
        self.systems, self.days, self.garbage_text = systems, days, garbage_text

    def push(self, story: Story, rng: random.Random) -> list[Pushed]:
        events = story.events
        orphan = rng.random() < ORPHAN
        if orphan:
            events = events[1:]  # the 'received' is lost for good
        out = []
        for n, event in enumerate(events):
            level = story.level if n == 0 and not orphan else None
            out.extend(self._rows(event, rng, level, "orphan" if orphan else None))
        for rating in story.ratings:
            recorded = rating.at + rng.randint(1, 30)
            out.append(
                Pushed(
                    recorded,
                    0,
                    "onsite_ratings",
                    (rating.case_no, rating.window_id, rating.staff_id, rating.score, rating.at),
                    None,
                    None,
                    None,
                )
            )
        return out

    def _rows(self, event: Event, rng: random.Random, level: str | None, bad: str | None) -> list[Pushed]:
        system = self.systems[event.system]
        recorded, late = self._push_time(event.at, system, rng)
        case_no, kind, occurred = event.case_no, event.kind, event.at + system.skew
        item_code, payload = event.item_code, event.payload
        payload_text = json_text(payload) if payload else system.empty_payload
        fault = _draw_fault(rng, kind)
        if fault == "null_case_no":
            case_no = None
        elif fault == "null_kind":
            kind = None
        elif fault == "null_occurred_at":
            occurred = None
        elif fault == "unparseable_occurred_at":
            occurred = rng.choice(BAD_TIMES) if self.garbage_text else None
            fault = fault if self.garbage_text else "null_occurred_at"
        elif fault == "unknown_kind":
            kind = rng.choice(UNKNOWN_KINDS)
        elif fault == "payload_not_object":
            if self.garbage_text and rng.random() < 0.5:
                payload_text = rng.choice(NOT_JSON)
            else:
                payload_text = rng.choice(NOT_OBJECTS)
        elif fault == "payload_missing_field":
            missing = rng.choice(REQUIRED[kind])
            payload_text = json_text({k: v for k, v in payload.items() if k != missing})
        elif fault == "unknown_item_code":
            item_code = rng.choice((f"{item_code[:-3]}9{item_code[-2:]}", f" {item_code}", "", "事项编码缺失"))
        elif fault == "occurred_after_recorded":
            occurred = recorded + rng.choice((8 * 3600, 86400, rng.randint(900, 3 * 3600)))
        row = (
            case_no,
            kind,
            occurred,
            recorded,
            system.name,
            event.center_id,
            event.dept_id,
            event.window_id,
            event.staff_id,
            item_code,
            payload_text,
        )
        out = [Pushed(recorded, 0, "case_events", row, level, bad or fault, late)]
        if rng.random() < DUPLICATE:
            again, _ = self._push_time(recorded + rng.randint(60, 5400), system, rng)
            resent = "retried" if system.mode == REALTIME else system.mode
            late = (late or resent) if again - event.at > LATE_AFTER else None
            out.append(Pushed(again, 0, "case_events", row[:3] + (again,) + row[4:], None, bad or "duplicate", late))
        return out

    def _push_time(self, at: int, system: SourceSystem, rng: random.Random) -> tuple[int, str | None]:
        """When a row of an event at `at` reaches the exchange database, and why it is late if it is."""
        if system.mode == HOURLY:
            recorded = at - at % 3600 + 3600 + system.batch_offset + rng.randint(0, 120)
        elif system.mode == NIGHTLY:
            midnight = self.days.midnight(self.days.day_of(at) + timedelta(days=1))
            recorded = midnight + system.batch_offset + rng.randint(0, 600)
        elif rng.random() < RETRIED:
            recorded = at + rng.randint(900, 6 * 3600)
            return recorded, "retried"
        else:
            recorded = at + min(300, 1 + int(rng.expovariate(1 / 20)))
        return recorded, (system.mode if recorded - at > LATE_AFTER else None)


_ANY_FAULT = sum(share for _, share in ROW_FAULTS)


def _draw_fault(rng: random.Random, kind: str) -> str | None:
    roll = rng.random()
    if roll >= _ANY_FAULT:
        return None
    for fault, share in ROW_FAULTS:
        if roll < share:
            if fault == "payload_missing_field" and kind not in REQUIRED:
                return None
            if fault == "unknown_item_code" and kind != "received":
                return None
            return fault
        roll -= share
    return None
