"""Clocks (时限) of a case, and the judgement of a case at an instant: `judge_case`.

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
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from operator import attrgetter, itemgetter

from rules._make import maker
from rules.alarms import KINDS, AlarmFact
from rules.calendar import WorkCalendar
from rules.events import MAX_DAYS, Event, fee_charged
from rules.procedure import CaseHistory, Span, _read

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
        for name in ("promised_days", "statutory_days", "warn_days"):
            if getattr(self, name) > MAX_DAYS:
                raise ValueError(
                    f"item {self.item_code}: {name} {getattr(self, name)} is more than the {MAX_DAYS} "
                    "days (ten years) any time limit may be"
                )
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


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """What the reports count of a case beside its clocks."""

    early: bool | None  # completed before its promised due date (提前办结); None until completed
    used_days: int | None  # working days from its start date to completion (实际用时); None until completed
    promised_days: int  # the promised limit (承诺时限), extensions included
    corrections: int  # correction notices (一次性补正告知) given by `now`


def case_figures(
    judgement: CaseJudgement | None,
    events: Sequence[Event],
    item: Item,
    calendar: WorkCalendar,
    now: datetime,
    tz: tzinfo,
) -> CaseFigures:
    """The figures of a case judged at `now` (`judgement` None: received after `now`, not judged yet).

    A case is early when the local day it was completed comes before its promise due date; its
    used days are working days after the start date up to and including that day."""
    if judgement is None:
        return CaseFigures(None, None, item.promised_days, 0)
    completed_at, start, promise_due = judgement.completed_at, judgement.start_date, judgement.promise_due
    completed_day = completed_at.astimezone(tz).date() if completed_at else None
    return CaseFigures(
        early=(completed_day < promise_due) if completed_day and promise_due else None,
        used_days=calendar.working_days_between(start, completed_day) if completed_day and start else None,
        promised_days=item.promised_days + judgement.extension_days,
        corrections=sum(1 for e in events if e.kind == "correction_notice" and e.occurred_at <= now),
    )


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
    events = list(events)
    zone = events[0].occurred_at.tzinfo if events else None
    one_zone = len(set(map(id, map(_ZONE_OF, events)))) <= 1  # the very same tzinfo object
    if one_zone and type(zone) is timezone:  # as a database gives them: every instant in one fixed zone
        now_there = _shown_in(now, zone)
        if now_there is not None:
            try:
                return _judge(events, item, calendar, now_there, tz, _times(tz, zone), True)
            except _NotSimple:
                pass  # a local midnight that happens twice, or never: compare as datetimes do
    return _judge(events, item, calendar, now, tz, _times(tz, None), one_zone)


def _judge(
    events: list[Event], item: Item, calendar: WorkCalendar, now: datetime, tz: tzinfo, times: _Times, one_zone: bool
) -> CaseJudgement | None:
    history = _read(events, now, one_zone)
    if history is None:
        return None
    return _Judge(history, item, calendar, now, tz, times).judgement()


# -- instants, compared cheaply ----------------------------------------------------------------
#
# A judgement compares the instants of events with local midnights (due dates run out at
# 00:00) and with `now`. Python compares two datetimes of different tzinfo by asking each
# for its utcoffset(), about 1 µs with a ZoneInfo; with the same tzinfo it compares their
# fields. Events come from the database all in one fixed zone (UTC): then the midnights
# and `now` are shown in that zone too (`_Midnight`, which keeps the local midnight to
# show in the judgement) and every comparison is of fields. That gives the same answers
# exactly when no instant compared has a utcoffset that depends on `fold` (a local time
# that happens twice or never): for those, Python's rules (PEP 495: wall-clock comparison
# within one tzinfo, an inter-zone == that is False) are not instant order, so such a
# case is judged again comparing the datetimes as they are, as it always was.


class _NotSimple(Exception):
    """A local midnight or `now` whose utcoffset depends on fold: compare the datetimes themselves."""


class _Midnight(datetime):
    """A local midnight shown in the fixed zone of a case's instants; `local` is the midnight itself."""

    __slots__ = ("local",)


def _out(instant: datetime | None) -> datetime | None:
    """What a judgement shows for an instant it compared: a local midnight as itself."""
    return instant.local if type(instant) is _Midnight else instant


_ONE_DAY = timedelta(days=1)
_ZONE_OF = attrgetter("occurred_at.tzinfo")


class _Times:
    """The local midnights of zone `tz`, shown in `shown_in` (a fixed zone), or as they are if None."""

    __slots__ = ("tz", "shown_in", "midnights", "after")

    def __init__(self, tz: tzinfo, shown_in: timezone | None):
        self.tz, self.shown_in = tz, shown_in
        self.midnights: dict[date, datetime] = {}
        self.after: dict[date, datetime] = {}

    def midnight(self, day: date) -> datetime:
        """00:00 local of `day`."""
        found = self.midnights.get(day)
        return found if found is not None else self._midnight(day)

    def midnight_after(self, day: date) -> datetime:
        """00:00 local of the day after `day`: when a due date on `day` has run out."""
        found = self.after.get(day)
        if found is None:
            found = self.after[day] = self.midnight(day + _ONE_DAY)
        return found

    def _midnight(self, day: date) -> datetime:
        local = datetime.combine(day, time.min, tzinfo=self.tz)
        if self.shown_in is None:
            found = local
        else:
            if local.utcoffset() != local.replace(fold=1).utcoffset():
                raise _NotSimple(day)
            shown = local.astimezone(self.shown_in)
            found = _Midnight(
                shown.year,
                shown.month,
                shown.day,
                shown.hour,
                shown.minute,
                shown.second,
                shown.microsecond,
                self.shown_in,
            )
            found.local = local
        if len(self.midnights) >= 100_000:  # a few hundred years of days: never, but bounded
            self.midnights.clear()
            self.after.clear()
        self.midnights[day] = found
        return found


_TIMES: dict[tuple[tzinfo, tzinfo | None], _Times] = {}


def _times(tz: tzinfo, shown_in: timezone | None) -> _Times:
    try:
        return _TIMES[tz, shown_in]
    except KeyError:
        if len(_TIMES) >= 64:
            _TIMES.clear()
        times = _TIMES[tz, shown_in] = _Times(tz, shown_in)
        return times
    except TypeError:  # a tzinfo that cannot be hashed: no cache
        return _Times(tz, shown_in)


_last_now: tuple = (None, None, None)  # (now, zone, now shown in zone): every case of a run has the same now


def _shown_in(now: datetime, zone: timezone) -> datetime | None:
    """`now` in the fixed `zone`, or None if its utcoffset depends on fold."""
    global _last_now
    last = _last_now
    if last[0] is now and last[1] is zone:
        return last[2]
    if now.tzinfo is zone:
        shown = now
    elif now.utcoffset() != now.replace(fold=1 - now.fold).utcoffset():
        shown = None
    else:
        shown = now.astimezone(zone)
    _last_now = (now, zone, shown)
    return shown


@dataclass(frozen=True, slots=True)
class _Move:
    """Something that moves a clock: an extension, or a special procedure starting or ending."""

    at: datetime
    order: int
    action: str  # 'extend', 'pause', 'resume'
    days: int = 0
    span: Span | None = None


_new_move = maker(_Move)


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
    overdue: tuple[datetime, date] | None = None  # _overdue(self), once known

    def due_now(self) -> date | None:
        return self.segments[-1][1]


_new_clock = maker(Clock)
_new_fact = maker(AlarmFact)
_new_judgement = maker(CaseJudgement)
_LEVELS = {kind: k.level for kind, k in KINDS.items()}
_SORT_KEY = itemgetter(0)


class _Judge:
    """One judgement. Instants it compares may be `_Midnight`s; what it shows goes through `_out`."""

    __slots__ = (
        "h",
        "item",
        "cal",
        "now",
        "tz",
        "midnight",
        "midnight_after",
        "place",
        "facts",
        "clocks",
        "upcoming",
        "deemed",
        "start",
        "opened",
        "special_moves",
    )

    def __init__(
        self, history: CaseHistory, item: Item, calendar: WorkCalendar, now: datetime, tz: tzinfo, times: _Times
    ):
        self.h, self.item, self.cal, self.now, self.tz = history, item, calendar, now, tz
        self.midnight, self.midnight_after = times.midnight, times.midnight_after
        self.place = _case_place(history, item)
        self.facts: list[tuple[tuple, AlarmFact]] = []  # (sort key, fact)
        self.clocks: list[Clock] = []
        self.upcoming: list[datetime] = []  # instants > now at which the judgement changes
        self.deemed = False  # the receipt clock was missed: accepted on the day of receipt (第32条)
        self.start: date | None = None  # the start date of the promise and statutory clocks
        self.opened: datetime | None = None  # the instant those clocks came into existence
        self.special_moves: list[_Move] | None = None

    # -- the whole case ------------------------------------------------------------------

    def judgement(self) -> CaseJudgement:
        h, item = self.h, self.item
        end = h.end
        end_at = end.occurred_at if end is not None else None
        self._receipt()
        promise = statutory = None
        if self.start is not None:
            moves = self._main_moves()
            promise = self._clock(
                "promise",
                self.start,
                self.opened,
                item.promised_days,
                item.day_unit,
                moves,
                end_at,
                self.place,
                "promise_overdue",
                "",
            )
            statutory = self._clock(
                "statutory",
                self.start,
                self.opened,
                item.statutory_days,
                item.day_unit,
                moves,
                end_at,
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
        facts = self.facts
        if len(facts) > 1:
            facts.sort(key=_SORT_KEY)  # by (fired_at, kind, subject), as compared
        now, next_change = self.now, None
        for t in self.upcoming:
            if t > now and (next_change is None or t < next_change):
                next_change = t
        return _new_judgement(
            h.received.case_no,
            item.item_code,
            self._status(promise, statutory),
            h.received.occurred_at,
            self.start,
            self.deemed,
            promise.due_now() if promise else None,
            statutory.due_now() if statutory else None,
            promise.paused_days if promise else 0,
            promise.extension_days if promise else 0,
            completed.occurred_at if completed else None,
            completed.payload["result"] if completed else None,
            (promise.overdue is None) if completed and promise else None,
            self.place,
            tuple(self.clocks),
            tuple([fact for _, fact in facts]),
            _out(next_change),
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
        fire = self.midnight_after(due)
        first, end = h.first_answer, h.end
        stop = first.occurred_at if first is not None else None  # the earliest answer, or the end
        if end is not None and (stop is None or end.occurred_at < stop):
            stop = end.occurred_at
        self.deemed = (stop is None and self.now >= fire) or (stop is not None and stop >= fire)
        self.clocks.append(
            _new_clock(
                "receipt",
                received_on,
                due,
                stop,
                self.place[1],
                "working",
                RECEIPT_DAYS,
                0,
                0,
                _out(fire) if self.deemed else None,
                self.cal,
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
        elif end is not None and end.kind == "completed":
            # completed with no acceptance at all: judged as if accepted on receipt
            self.start, self.opened = received_on, h.received.occurred_at

    def _main_moves(self) -> list[_Move]:
        moves = [_new_move(e.occurred_at, e.event_id, "extend", e.payload["days"], None) for e in self.h.extensions]
        return moves + self._special_moves()

    def _special_moves(self) -> list[_Move]:
        if self.special_moves is None:
            moves = []
            for span in self.h.specials:
                moves.append(_new_move(span.started.occurred_at, span.started.event_id, "pause", 0, span))
                if span.ended is not None:
                    moves.append(_new_move(span.ended.occurred_at, span.ended.event_id, "resume", 0, span))
            self.special_moves = moves
        return self.special_moves

    # -- promise warning ---------------------------------------------------------------------

    def _promise_warning(self, promise: _Run) -> None:
        """promise_warning: 00:00 of the working day warn_days − 1 working days before the due date."""
        warn_days = self.item.warn_days
        if warn_days < 1:
            return
        first_day = self.cal.add_working(promise.start, 1)  # the first day of the clock (民法典 第201条)
        episodes: list[list] = []
        segments = promise.segments
        for i, (begins, due) in enumerate(segments):
            if due is None or due < first_day:
                continue  # paused, or a limit too short to warn ahead of
            ends = segments[i + 1][0] if i + 1 < len(segments) else promise.stop
            day = due if warn_days == 1 else self.cal.sub_working(due, warn_days - 1)
            since = self.midnight(first_day if first_day > day else day)
            if begins > since:
                since = begins
            until = self.midnight_after(due)
            if ends is not None and ends < until:
                until = ends
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
        if not self.h.steps:
            return
        end_at = self._at(self.h.end)
        moves = self._special_moves()
        for span in self.h.steps:
            place = _event_place(span.started, self.place, own_desk=True)
            stop = _earliest(self._at(span.ended), end_at)
            self._clock(
                f"step:{span.id}",
                self._date(span.started),
                span.started.occurred_at,
                span.limit_days,
                "working",
                moves,
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
        if not notices:
            return
        receipt = self.clocks[0]
        if self._date(notices[0]) > receipt.due:
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
        if moves:
            run = self._run(start, opened, limit, unit, moves, stop)
            run.overdue = overdue = _overdue(run, self.midnight_after)
        else:  # nothing moves it: one segment from `opened` (what _run and _overdue come to then)
            due = self._due(start, limit, unit)
            run = _Run(start, limit, unit, [(opened, due)], stop)
            fire = self.midnight_after(due)
            if opened > fire:
                fire = opened
            run.overdue = overdue = (fire, due) if stop is None or fire <= stop else None
        fired_at = None
        if overdue is not None and overdue[0] <= self.now:
            fired_at, due = overdue
            self._fact(kind, subject, fired_at, stop, due, place)
        elif overdue is not None:
            self.upcoming.append(overdue[0])
        self.clocks.append(
            _new_clock(
                name,
                start,
                run.due_now(),
                stop,
                place[1],
                unit,
                limit,
                run.extension_days,
                run.paused_days,
                _out(fired_at),
                self.cal,
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
            ran_out = current is not None and self.midnight_after(current) <= move.at
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

    # -- time ------------------------------------------------------------------------------------

    def _fact(self, kind, subject, fired_at, ended_at, due, place) -> None:
        center_id, dept_id, window_id, staff_id = place
        fact = _new_fact(
            kind,
            _LEVELS[kind],
            self.h.received.case_no,
            subject,
            _out(fired_at),
            _out(ended_at),
            due,
            center_id,
            dept_id,
            window_id,
            staff_id,
            None,
        )
        self.facts.append(((fired_at, kind, subject), fact))

    def _date(self, event: Event) -> date:
        return event.occurred_at.astimezone(self.tz).date()

    @staticmethod
    def _at(event: Event | None) -> datetime | None:
        return event.occurred_at if event is not None else None


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


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two instants, either of which may be None (min: the first if they are equal)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if b < a else a


def _case_place(history: CaseHistory, item: Item) -> Place:
    """Where the case belongs: the `received` row's place, gaps filled from later rows and the item."""
    received = history.received
    center, dept, window, staff = received.center_id, received.dept_id, received.window_id, received.staff_id
    if center is None:
        center = next((e.center_id for e in history.events if e.center_id is not None), None)
    if dept is None:
        dept = next((e.dept_id for e in history.events if e.dept_id is not None), None)
        if dept is None:
            dept = item.dept_id
    if window is None:
        window = next((e.window_id for e in history.events if e.window_id is not None), None)
    if staff is None:
        staff = next((e.staff_id for e in history.events if e.staff_id is not None), None)
    return (center, dept, window, staff)


def _event_place(event: Event, case_place: Place, *, own_desk: bool = False) -> Place:
    """An event's own place (the officer who did it), gaps filled from the case's place.

    With own_desk (steps and special procedures, often done away from any window), the
    window and staff are the event's own only: the receiving window is not to blame.
    """
    center, dept, window, staff = case_place
    mine = event.center_id
    if mine is not None:
        center = mine
    mine = event.dept_id
    if mine is not None:
        dept = mine
    if own_desk:
        return (center, dept, event.window_id, event.staff_id)
    mine = event.window_id
    if mine is not None:
        window = mine
    mine = event.staff_id
    if mine is not None:
        staff = mine
    return (center, dept, window, staff)
