"""Frozen copy of rules/clocks.py at commit e47c978, before it was optimised: the reference the
optimised code must match exactly (tests/rules/test_differential.py). Do not edit it.

The original docstring follows.

Clocks (时限) of a case, and the judgement of a case at an instant: `judge_case`.

A clock starts on a date, has a limit in working or natural days, may be paused by
special procedures (行政许可法 第45条) and grown by extensions (第42条), and stops
when what it waits for happens. Its due date is met by anything up to 23:59:59.999
local of that date; its overdue alarm fires at 00:00 local of the next day.

A clock's life is a list of segments: from an instant on, the due date is D (or
None while paused). Extensions and special procedures that start after the clock
has already run out do not move it: 第42条 lets an agency head extend a limit that
is still running, and 第45条 keeps the time of a special procedure out of a limit
that is still running; neither cures a deadline already missed. Every other
choice where the contract is silent is written in rules/DECISIONS.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache

from rules.alarms import KINDS, AlarmFact
from tests.rules.reference.calendar import WorkCalendar
from tests.rules.reference.events import Event, fee_charged
from tests.rules.reference.procedure import CaseHistory, Span, read_history

RECEIPT_DAYS = 5  # 第32条: 五日内一次告知
DELIVERY_DAYS = 10  # 第44条: 十日内颁发、送达

Place = tuple[str | None, str | None, str | None, str | None]  # center, dept, window, staff


@dataclass(frozen=True, slots=True)
class Item:
    """A catalogue item (政务服务事项): its promised (承诺) and statutory (法定) limits."""

    item_code: str
    promised_days: int
    statutory_days: int
    day_unit: str = "working"  # 'working' or 'natural'
    fee_yuan: Decimal = Decimal(0)
    dept_id: str | None = None
    warn_days: int = 2  # promise_warning this many working days ahead, the due date counting as one

    def __post_init__(self) -> None:
        if self.day_unit not in ("working", "natural"):
            raise ValueError(f"item {self.item_code}: day_unit must be 'working' or 'natural', got {self.day_unit!r}")
        if self.promised_days < 0 or self.statutory_days < 0:
            raise ValueError(f"item {self.item_code}: negative time limit")
        # NUMERIC may arrive as a float (SQLite): compare fees as the decimal it was written as
        object.__setattr__(self, "fee_yuan", Decimal(str(self.fee_yuan)))


@dataclass(frozen=True, slots=True)
class Clock:
    """One time limit of a case as of the judgement instant.

    name: 'receipt', 'promise', 'statutory', 'step:<step_id>', 'special:<special_id>', 'delivery'.
    due is None while the clock is paused by an open special procedure.
    overdue_at is the instant its overdue alarm fired (None if it has not, by then).
    """

    name: str
    start: date
    due: date | None
    stopped_at: datetime | None
    dept_id: str | None
    unit: str
    limit_days: int
    extension_days: int
    paused_days: int
    overdue_at: datetime | None
    calendar: WorkCalendar = field(repr=False, compare=False)

    @property
    def paused(self) -> bool:
        """True while an open special procedure stops this clock (第45条)."""
        return self.due is None and self.stopped_at is None

    def working_days_left(self, today: date) -> int | None:
        """W(due) − W(today): 0 on the due date, negative once overdue; None if paused or stopped."""
        if self.due is None or self.stopped_at is not None:
            return None
        return self.calendar.working_days_between(today, self.due)


@dataclass(frozen=True, slots=True)
class CaseJudgement:
    """What the supervision system concludes about one case at one instant (semantics.md)."""

    case_no: str
    item_code: str
    status: str  # received, correction, accepted, paused, completed, rejected, withdrawn
    received_at: datetime
    start_date: date | None
    deemed_accepted: bool
    promise_due: date | None
    statutory_due: date | None
    paused_days: int
    extension_days: int
    completed_at: datetime | None
    result: str | None  # 'approved' or 'denied' once completed
    on_time: bool | None
    place: Place
    clocks: tuple[Clock, ...]
    alarms: tuple[AlarmFact, ...]
    next_change: datetime | None

    @property
    def alarm_kinds(self) -> list[str]:
        """The kinds of the alarms that have fired, in firing order, without repeats."""
        return list(dict.fromkeys(fact.kind for fact in self.alarms))

    def clock(self, name: str) -> Clock | None:
        """The clock called `name` ('promise', 'step:a', ...), or None."""
        return next((c for c in self.clocks if c.name == name), None)


def judge_case(
    events: Sequence[Event], item: Item, calendar: WorkCalendar, now: datetime, tz: tzinfo
) -> CaseJudgement | None:
    """Judge a case from ALL its events as of `now` (events after `now` are not yet known).

    Replaying at any earlier `now` gives what the system would have concluded then,
    with the late rows it has now. Returns None if the case has no `received` by `now`.
    Receipt clock and deemed acceptance: 行政许可法 第32条; promise and statutory clocks:
    第42条 (extension), 第45条 (special procedures); delivery: 第44条; day counting:
    民法典 第201条, 第203条 and 行政许可法 第82条.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"judge_case: now must be tz-aware, got {now!r}")
    history = read_history(events, now)
    if history is None:
        return None
    return _Judge(history, item, calendar, now, tz).judgement()


@dataclass(frozen=True, slots=True)
class _Move:
    """Something that moves a clock: an extension, or a special procedure starting or ending."""

    at: datetime
    order: int
    action: str  # 'extend', 'pause', 'resume'
    days: int = 0
    span: Span | None = None


@dataclass(slots=True)
class _Run:
    """A clock's life up to the judgement instant: segments of (from instant, due date or None)."""

    start: date
    limit: int
    unit: str
    segments: list[tuple[datetime, date | None]]
    stop: datetime | None
    extension_days: int = 0
    paused_days: int = 0

    def due_now(self) -> date | None:
        return self.segments[-1][1]


class _Judge:
    def __init__(self, history: CaseHistory, item: Item, calendar: WorkCalendar, now: datetime, tz: tzinfo):
        self.h, self.item, self.cal, self.now, self.tz = history, item, calendar, now, tz
        self.place = _case_place(history, item)
        self.facts: list[AlarmFact] = []
        self.clocks: list[Clock] = []
        self.upcoming: list[datetime] = []  # instants > now at which the judgement changes
        self.deemed = False  # the receipt clock was missed: accepted on the day of receipt (第32条)
        self.start: date | None = None  # the start date of the promise and statutory clocks
        self.opened: datetime | None = None  # the instant those clocks came into existence

    # -- the whole case ------------------------------------------------------------------

    def judgement(self) -> CaseJudgement:
        h = self.h
        end = h.end
        self._receipt()
        promise = statutory = None
        if self.start is not None:
            moves = self._main_moves()
            promise = self._clock(
                "promise",
                self.start,
                self.opened,
                self.item.promised_days,
                self.item.day_unit,
                moves,
                self._at(end),
                self.place,
                "promise_overdue",
                "",
            )
            statutory = self._clock(
                "statutory",
                self.start,
                self.opened,
                self.item.statutory_days,
                self.item.day_unit,
                moves,
                self._at(end),
                self.place,
                "statutory_overdue",
                "",
            )
            self._promise_warning(promise)
        self._steps()
        self._specials()
        self._delivery()
        self._corrections()
        self._fee()
        self._anomalies()
        completed = end if end is not None and end.kind == "completed" else None
        return CaseJudgement(
            case_no=h.received.case_no,
            item_code=self.item.item_code,
            status=self._status(promise, statutory),
            received_at=h.received.occurred_at,
            start_date=self.start,
            deemed_accepted=self.deemed,
            promise_due=promise.due_now() if promise else None,
            statutory_due=statutory.due_now() if statutory else None,
            paused_days=promise.paused_days if promise else 0,
            extension_days=promise.extension_days if promise else 0,
            completed_at=completed.occurred_at if completed else None,
            result=completed.payload["result"] if completed else None,
            on_time=(_overdue(promise, self._midnight_after) is None) if completed and promise else None,
            place=self.place,
            clocks=tuple(self.clocks),
            alarms=tuple(sorted(self.facts, key=lambda f: (f.fired_at, f.kind, f.subject))),
            next_change=min((t for t in self.upcoming if t > self.now), default=None),
        )

    def _status(self, promise: _Run | None, statutory: _Run | None) -> str:
        """The case's status; 'paused' while a special procedure stops its promise or statutory clock."""
        h = self.h
        if h.end is not None:
            return h.end.kind
        if promise is not None:
            return "paused" if None in (promise.due_now(), statutory.due_now()) else "accepted"
        return "correction" if h.correction_notices else "received"

    # -- receipt clock and start date (第32条) ---------------------------------------------

    def _receipt(self) -> None:
        h = self.h
        received_on = self._date(h.received)
        due = self.cal.add_working(received_on, RECEIPT_DAYS)
        fire = self._midnight_after(due)
        answers = [e for e in (h.first_answer, h.end) if e is not None]
        stop = min((e.occurred_at for e in answers), default=None)
        self.deemed = (stop is None and self.now >= fire) or (stop is not None and stop >= fire)
        self.clocks.append(
            self._clock_view(
                "receipt",
                received_on,
                due,
                stop,
                self.place[1],
                "working",
                RECEIPT_DAYS,
                0,
                0,
                fire if self.deemed else None,
            )
        )
        if self.deemed:
            self._fact("receipt_unprocessed", "", fire, stop, due, self.place)
        elif stop is None:
            self.upcoming.append(fire)
        if self.deemed:  # 逾期不告知的，自收到申请材料之日起即为受理
            self.start, self.opened = received_on, fire
        elif h.accepted is not None:
            self.start, self.opened = self._date(h.accepted), h.accepted.occurred_at
        elif h.end is not None and h.end.kind == "completed":
            # completed with no acceptance at all: judged as if accepted on receipt
            self.start, self.opened = received_on, h.received.occurred_at

    def _main_moves(self) -> list[_Move]:
        moves = [_Move(e.occurred_at, e.event_id, "extend", days=e.payload["days"]) for e in self.h.extensions]
        return moves + self._special_moves()

    def _special_moves(self) -> list[_Move]:
        moves = []
        for span in self.h.specials:
            moves.append(_Move(span.started.occurred_at, span.started.event_id, "pause", span=span))
            if span.ended is not None:
                moves.append(_Move(span.ended.occurred_at, span.ended.event_id, "resume", span=span))
        return moves

    # -- promise warning ---------------------------------------------------------------------

    def _promise_warning(self, promise: _Run) -> None:
        """promise_warning: 00:00 of the working day warn_days − 1 working days before the due date."""
        warn_days = self.item.warn_days
        if warn_days < 1:
            return
        first_day = self.cal.add_working(promise.start, 1)  # the first day of the clock (民法典 第201条)
        episodes: list[list] = []
        for (begins, due), ends in _with_ends(promise):
            if due is None or due < first_day:
                continue  # paused, or a limit too short to warn ahead of
            day = due if warn_days == 1 else self.cal.sub_working(due, warn_days - 1)
            since = max(self._midnight(max(day, first_day)), begins)
            until = self._midnight_after(due) if ends is None else min(self._midnight_after(due), ends)
            if since >= until:
                continue
            if episodes and episodes[-1][1] == since:
                episodes[-1][1:] = [until, due]
            else:
                episodes.append([since, until, due])
        self.upcoming += [t for episode in episodes for t in episode[:2]]
        fired = [e for e in episodes if e[0] <= self.now]
        if fired:
            since, until, due = fired[-1]
            ended = until if until <= self.now else None
            self._fact("promise_warning", "", since, ended, due, self.place)

    # -- steps, special procedures, delivery ---------------------------------------------------

    def _steps(self) -> None:
        """Step clocks (审批环节): add_working(date(step_started), limit_days + pause)."""
        end_at = self._at(self.h.end)
        for span in self.h.steps:
            place = _event_place(span.started, self.place, own_desk=True)
            stop = _earliest(self._at(span.ended), end_at)
            self._clock(
                f"step:{span.id}",
                self._date(span.started),
                span.started.occurred_at,
                span.limit_days,
                "working",
                self._special_moves(),
                stop,
                place,
                "step_overdue",
                span.id,
            )

    def _specials(self) -> None:
        """Special-procedure clocks (特别程序, 第45条): add_working(date(special_started), limit_days)."""
        end_at = self._at(self.h.end)
        for span in self.h.specials:
            place = _event_place(span.started, self.place, own_desk=True)
            stop = _earliest(self._at(span.ended), end_at)
            self._clock(
                f"special:{span.id}",
                self._date(span.started),
                span.started.occurred_at,
                span.limit_days,
                "working",
                [],
                stop,
                place,
                "special_overdue",
                span.id,
            )

    def _delivery(self) -> None:
        """Delivery clock (送达, 第44条): an approved completion is delivered by add_working(date, 10)."""
        end = self.h.end
        if end is None or end.kind != "completed" or end.payload["result"] != "approved":
            return
        place = _event_place(end, self.place)
        self._clock(
            "delivery",
            self._date(end),
            end.occurred_at,
            DELIVERY_DAYS,
            "working",
            [],
            self._at(self.h.delivered),
            place,
            "delivery_overdue",
            "",
        )

    # -- event-driven alarms -------------------------------------------------------------------

    def _corrections(self) -> None:
        """correction_late (first notice after the receipt clock, 第32条) and correction_repeated."""
        notices = self.h.correction_notices
        receipt = self.clocks[0]
        if notices and self._date(notices[0]) > receipt.due:
            self._fact(
                "correction_late", "", notices[0].occurred_at, None, receipt.due, _event_place(notices[0], self.place)
            )
        seen = set()
        for notice in notices[1:]:  # 一次性告知: a second notice breaks it
            subject = self._date(notice).isoformat()
            if subject not in seen:
                seen.add(subject)
                self._fact(
                    "correction_repeated", subject, notice.occurred_at, None, None, _event_place(notice, self.place)
                )

    def _fee(self) -> None:
        """fee_violation: completed.fee_charged above the item's standard fee."""
        end = self.h.end
        if end is None or end.kind != "completed":
            return
        fee = fee_charged(end.payload)
        if fee is not None and fee > self.item.fee_yuan:
            self._fact("fee_violation", "", end.occurred_at, None, None, _event_place(end, self.place))

    def _anomalies(self) -> None:
        for anomaly in self.h.anomalies:
            self._fact(
                "procedure_anomaly",
                anomaly.reason,
                anomaly.event.occurred_at,
                None,
                None,
                _event_place(anomaly.event, self.place),
            )

    # -- clocks -------------------------------------------------------------------------------

    def _clock(self, name, start, opened, limit, unit, moves, stop, place, kind, subject) -> _Run:
        run = self._run(start, opened, limit, unit, moves, stop)
        overdue = _overdue(run, self._midnight_after)
        fired_at = None
        if overdue is not None and overdue[0] <= self.now:
            fired_at, due = overdue
            self._fact(kind, subject, fired_at, stop, due, place)
        elif overdue is not None:
            self.upcoming.append(overdue[0])
        self.clocks.append(
            self._clock_view(
                name, start, run.due_now(), stop, place[1], unit, limit, run.extension_days, run.paused_days, fired_at
            )
        )
        return run

    def _run(
        self, start: date, opened: datetime, limit: int, unit: str, moves: list[_Move], stop: datetime | None
    ) -> _Run:
        """Play the moves on a clock opened at `opened`; moves after it stopped or ran out are ignored."""
        run = _Run(start, limit, unit, [], stop)
        counted: set[int] = set()  # the specials (by start event id) that pause this clock
        open_specials: set[int] = set()

        def due() -> date | None:
            return None if open_specials else self._due(start, limit + run.extension_days + run.paused_days, unit)

        for move in sorted(moves, key=lambda m: (m.at, m.order)):
            if stop is not None and move.at >= stop:
                break
            if move.at > opened and not run.segments:
                run.segments.append((opened, due()))
            current = due()
            ran_out = current is not None and self._midnight_after(current) <= move.at
            span = move.span
            if move.action == "extend" and not ran_out:
                run.extension_days += move.days
            elif move.action == "pause" and not ran_out and self._date(span.started) >= start:
                counted.add(span.started.event_id)
                open_specials.add(span.started.event_id)
            elif move.action == "resume" and span.started.event_id in counted:
                open_specials.discard(span.started.event_id)
                run.paused_days += self._pause_days(span, unit)
            else:
                continue
            if move.at > opened and due() != current:
                run.segments.append((move.at, due()))
        if not run.segments:
            run.segments.append((opened, due()))
        return run

    def _pause_days(self, span: Span, unit: str) -> int:
        """W(date(ended)) − W(date(started)) working days, or calendar days for natural-day clocks."""
        began, ended = self._date(span.started), self._date(span.ended)
        if unit == "natural":
            return (ended - began).days
        return self.cal.working_days_between(began, ended)

    def _due(self, start: date, days: int, unit: str) -> date:
        return self.cal.add_natural(start, days) if unit == "natural" else self.cal.add_working(start, days)

    def _clock_view(self, name, start, due, stop, dept, unit, limit, ext, paused, overdue_at) -> Clock:
        return Clock(name, start, due, stop, dept, unit, limit, ext, paused, overdue_at, self.cal)

    # -- time ------------------------------------------------------------------------------------

    def _fact(self, kind, subject, fired_at, ended_at, due, place) -> None:
        self.facts.append(
            make_fact(
                kind,
                case_no=self.h.received.case_no,
                subject=subject,
                fired_at=fired_at,
                ended_at=ended_at,
                due=due,
                place=place,
            )
        )

    def _date(self, event: Event) -> date:
        return _local_date(event.occurred_at, self.tz)

    def _midnight(self, day: date) -> datetime:
        return _local_midnight(day, self.tz)

    def _midnight_after(self, day: date) -> datetime:
        return _local_midnight(day + timedelta(days=1), self.tz)

    @staticmethod
    def _at(event: Event | None) -> datetime | None:
        return event.occurred_at if event is not None else None


# Pure functions of their arguments, asked the same questions over and over by every case.
@lru_cache(maxsize=65536)
def _local_date(instant: datetime, tz: tzinfo) -> date:
    return instant.astimezone(tz).date()


@lru_cache(maxsize=4096)
def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _with_ends(run: _Run):
    """Each segment of a run with the instant it ends (the next segment, the stop, or None)."""
    segments = run.segments
    for i, segment in enumerate(segments):
        yield segment, segments[i + 1][0] if i + 1 < len(segments) else run.stop


def _overdue(run: _Run, midnight_after) -> tuple[datetime, date] | None:
    """(instant, due date) at which a clock's overdue alarm fires, judged from its whole run.

    00:00 after the due date; or, if the clock resumed from a pause with its due date
    already past, the instant it resumed. None if it stopped (or is paused) in time.
    A segment never ends exactly at its own 00:00 by a move (a move at that instant finds
    the clock run out and is ignored), so `fire <= ends` only matters for a stop.
    """
    for (begins, due), ends in _with_ends(run):
        if due is None:
            continue
        fire = max(midnight_after(due), begins)
        if ends is None or fire <= ends:  # stopping at 00:00 after the due date is already late
            return fire, due
    return None


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _case_place(history: CaseHistory, item: Item) -> Place:
    """Where the case belongs: the `received` row's place, gaps filled from later rows and the item."""
    fields = ("center_id", "dept_id", "window_id", "staff_id")
    place = []
    for name in fields:
        value = getattr(history.received, name)
        if value is None:
            value = next((getattr(e, name) for e in history.events if getattr(e, name) is not None), None)
        if value is None and name == "dept_id":
            value = item.dept_id
        place.append(value)
    return tuple(place)


def _event_place(event: Event, case_place: Place, *, own_desk: bool = False) -> Place:
    """An event's own place (the officer who did it), gaps filled from the case's place.

    With own_desk (steps and special procedures, often done away from any window), the
    window and staff are the event's own only: the receiving window is not to blame.
    """
    own = (event.center_id, event.dept_id, event.window_id, event.staff_id)
    place = [mine if mine is not None else theirs for mine, theirs in zip(own, case_place)]
    if own_desk:
        place[2:] = own[2:]
    return tuple(place)


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
