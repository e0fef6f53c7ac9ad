"""The life of a case (办件), from receipt to delivery, as the events that really happened.

A case is received at a window or online, answered within the receipt clock
(correction notice, acceptance or rejection), processed through approval steps
(parallel at other departments, vertical at the level above), maybe paused by a
special procedure or extended, completed, and its licence delivered. A small,
realistic share goes wrong the ways supervision exists to catch: late answers,
repeated correction notices, overdue steps and cases, fees above the standard,
late delivery, and procedure anomalies. What upstream systems make of these
events on their way into the exchange database (late pushes, bad rows) is
:mod:`app.simulate.faults`' business, not this module's.

Everything is drawn from the `random.Random` handed in, so a day's cases are a
pure function of the seed and the day.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from app.simulate import traffic
from app.simulate.catalogue import (
    INSTANT,
    JOINT,
    MATERIALS,
    NATURAL,
    REJECTION_REASONS,
    REVIEW,
    SIMPLE,
    SPECIAL_PROCEDURES,
    STEP_NAMES,
    VERTICAL,
)
from app.simulate.people import miswritten_phone, mobile_number, person_name
from app.simulate.region import Department, Item, Office, Region
from app.simulate.traffic import Calendar

# --- how often things happen (shares of cases unless said otherwise) ---
PHONE_GIVEN = 0.90
PHONE_MISWRITTEN = 0.01  # of given phones
FIRST_ANSWER_DAYS = {0: 0.55, 1: 0.22, 2: 0.10, 3: 0.06, 4: 0.045, 5: 0.025}  # working days after receipt
RECEIPT_LATE = 0.008  # first answer after the receipt clock (第32条: deemed accepted)
RECEIPT_NEVER = 0.003  # never answered at all
CORRECTION = 0.10  # 一次性补正告知
CORRECTION_AGAIN = 0.05  # of corrections: a second notice (一次性告知 violated)
CORRECTION_RETURNED = 0.85  # of corrections: the applicant brings the materials
REJECTED = 0.015
WITHDRAWN = 0.012  # after acceptance
DENIED = 0.04  # of completions
PROMISE_OVERDUE = 0.03
STATUTORY_OVERDUE = 0.004
STEP_OVERDUE = 0.04  # of steps
SPECIAL = {REVIEW: 0.04, JOINT: 0.06, VERTICAL: 0.04, SIMPLE: 0.01, INSTANT: 0.0}
SPECIAL_OVERDUE = 0.08  # of special procedures
SPECIAL_LEFT_OPEN = 0.02  # of special procedures: still running at the end of the data
EXTENDED = 0.02  # of non-instant cases (第42条)
FEE_OVERCHARGED = 0.004  # of completions of items with a fee
FREE_CHARGED = 0.0005  # of completions of free items
DELIVERED = 0.985  # of approvals
DELIVERY_LATE = 0.015  # of deliveries
RATED = 0.45  # of window applicants pressing the rating device (评价器)
SCORES = ((100, 0.88), (80, 0.08), (60, 0.025), (0, 0.015))
# procedure anomalies (semantics.md, procedure_anomaly), shares of cases
ANOMALIES = {
    "completed_without_acceptance": 0.0015,
    "accepted_after_rejection": 0.0004,
    "event_after_end": 0.001,
    "special_end_without_start": 0.0005,
    "step_end_without_start": 0.0005,
    "duplicate_completion": 0.001,
}


class Event(NamedTuple):
    """One thing that happened to a case, at its true instant (epoch seconds)."""

    case_no: str
    kind: str
    at: int
    center_id: str
    dept_id: str | None
    window_id: str | None
    staff_id: str | None
    item_code: str | None
    payload: dict | None
    system: str


class Rating(NamedTuple):
    """A press on a window's rating device (现场评价)."""

    case_no: str | None
    window_id: str
    staff_id: str | None
    score: int
    at: int


class Story(NamedTuple):
    """A case's whole life as generated on its day of receipt."""

    case_no: str
    level: str
    events: list[Event]
    ratings: list[Rating]
    anomaly: str | None


class LocalDays:
    """Local days and instants: epoch seconds of local midnights, and the contract's text of an instant.

    An instant is local midnight + seconds on the wall clock (exact for zones
    without daylight saving, such as Asia/Shanghai).
    """

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self._midnight: dict[date, int] = {}
        self._quarters: dict[int, tuple[str, int, str]] = {}

    def iso(self, t: int) -> str:
        """ISO 8601 with the local offset, e.g. '2026-03-02T09:00:00+08:00' (same as datetime.isoformat)."""
        # Every real UTC offset is a multiple of 15 minutes, so a UTC quarter-hour is a local one:
        # format its start once and add minutes and seconds by hand (unless the offset changes inside it).
        quarter, rest = divmod(t, 900)
        cached = self._quarters.get(quarter)
        if cached is None:
            if len(self._quarters) > 100_000:
                self._quarters.clear()
            start = datetime.fromtimestamp(quarter * 900, self.zone)
            if start.utcoffset() != datetime.fromtimestamp(quarter * 900 + 899, self.zone).utcoffset():
                return datetime.fromtimestamp(t, self.zone).isoformat()
            text = start.isoformat()
            cached = self._quarters[quarter] = (text[:14], int(text[14:16]), text[19:])
        head, minute, offset = cached
        return f"{head}{minute + rest // 60:02d}:{rest % 60:02d}{offset}"

    def midnight(self, d: date) -> int:
        t = self._midnight.get(d)
        if t is None:
            t = self._midnight[d] = int(datetime(d.year, d.month, d.day, tzinfo=self.zone).timestamp())
        return t

    def day_of(self, t: int) -> date:
        return datetime.fromtimestamp(t, self.zone).date()


class CaseMaker:
    """Draws the cases received at every center on a day, each with its whole life."""

    def __init__(self, region: Region, calendar: Calendar, days: LocalDays, scale: float = 1.0):
        self.region, self.calendar, self.days, self.scale = region, calendar, days, scale
        self.total_windows = sum(o.windows for o in region.offices.values())

    def day(self, d: date, rng: random.Random) -> Iterator[Story]:
        """Every case received on `d`, center by center, in order of arrival."""
        working = self.calendar.is_working_day(d)
        if working:
            factor = traffic.day_factor(self.calendar, d)
            window_factor, online_factor = factor, factor
        else:
            window_factor = 0.0
            online_factor = traffic.HOLIDAY_ONLINE if d.weekday() < 5 else traffic.OFF_DAY_ONLINE
        per_window = traffic.CASES_PER_WORKING_DAY * self.scale / self.total_windows
        for office in self.region.offices.values():
            mean = per_window * office.windows
            arrivals = [
                (traffic.window_arrival(rng, d), "window")
                for _ in range(traffic.draw_count(rng, mean * (1 - traffic.ONLINE_SHARE) * window_factor))
            ]
            arrivals += [
                (traffic.online_arrival(rng), "online")
                for _ in range(traffic.draw_count(rng, mean * traffic.ONLINE_SHARE * online_factor))
            ]
            arrivals.sort()
            for seq, (second, channel) in enumerate(arrivals, start=1):
                case_no = f"{office.center.area_code}-{d:%Y%m%d}-{seq:05d}"
                yield _Life(self, office, rng, case_no, d, second, channel).story()


class _Life:
    """One case being lived: a cursor on the working timeline and the events so far."""

    def __init__(
        self, maker: CaseMaker, office: Office, rng: random.Random, case_no: str, d: date, second: int, channel: str
    ):
        self.maker, self.office, self.rng, self.case_no = maker, office, rng, case_no
        self.cal, self.days = maker.calendar, maker.days
        self.item: Item = rng.choices(office.item_list, cum_weights=office.item_cum)[0]
        self.spec = self.item.spec
        self.dept = office.departments[self.spec.dept]
        self.channel = channel
        self.day, self.second = d, second  # the cursor: nothing later in the main line happens before it
        self.events: list[Event] = []
        self.ratings: list[Rating] = []
        self.anomaly = next((name for name, share in ANOMALIES.items() if rng.random() < share), None)
        self.window, self.clerk = self._counter() if channel == "window" else (None, None)

    # -- the story ------------------------------------------------------------------

    def story(self) -> Story:
        self._receive()
        if self._answer():
            self._process()
        return Story(self.case_no, self.office.center.level, self.events, self.ratings, self.anomaly)

    def _receive(self) -> None:
        rng = self.rng
        payload: dict = {}
        if rng.random() < PHONE_GIVEN:
            payload["applicant_phone"] = (
                miswritten_phone(rng) if rng.random() < PHONE_MISWRITTEN else mobile_number(rng)
            )
        if rng.random() < 0.9:  # some systems do not say how the application came
            payload["channel"] = self.channel
        self._emit(
            "received", self._now(), payload, item_code=self.item.item_code, window=self.window, staff=self.clerk
        )
        if self.window is not None and rng.random() < RATED:
            score = rng.choices([s for s, _ in SCORES], weights=[w for _, w in SCORES])[0]
            linked = rng.random() > 0.03  # some devices are not linked to the case
            self.ratings.append(
                Rating(
                    self.case_no if linked else None,
                    self.window.window_id,
                    self.clerk.staff_id if self.clerk else None,
                    score,
                    self._now() + rng.randint(120, 900),
                )
            )

    def _answer(self) -> bool:
        """The receipt clock's answer: correction notice, acceptance or rejection. False if the case ends here."""
        rng = self.rng
        roll = rng.random()
        if roll < RECEIPT_NEVER:
            return False
        if roll < RECEIPT_NEVER + RECEIPT_LATE:
            self._move(rng.randint(6, 9))
        else:
            waits = list(FIRST_ANSWER_DAYS)
            wait = rng.choices(waits, weights=list(FIRST_ANSWER_DAYS.values()))[0]
            if self.channel == "window" and self.spec.profile == INSTANT:
                wait = 0
            self._move(wait)
        roll = rng.random()
        if roll < REJECTED:
            self._emit("rejected", self._back_office_time(), {"reason": rng.choice(REJECTION_REASONS)})
            if self.anomaly == "accepted_after_rejection":
                self._move(rng.randint(0, 2))
                self._emit("accepted", self._back_office_time(), None)
            elif self.anomaly == "event_after_end":
                self._move(rng.randint(1, 5))
                self._emit("completed", self._back_office_time(), {"result": "denied"})
            return False
        if roll < REJECTED + CORRECTION:
            return self._correction()
        if self.anomaly != "completed_without_acceptance":
            self._emit("accepted", self._back_office_time(), None)
        return True

    def _correction(self) -> bool:
        rng = self.rng
        self._emit(
            "correction_notice",
            self._back_office_time(),
            {"materials": rng.sample(MATERIALS, rng.randint(1, 3))} if rng.random() < 0.8 else None,
        )
        if rng.random() < CORRECTION_AGAIN:
            self._move(rng.randint(1, 4))
            self._emit("correction_notice", self._back_office_time(), {"materials": rng.sample(MATERIALS, 1)})
        if rng.random() >= CORRECTION_RETURNED:
            if rng.random() < 0.4:
                self._move(rng.randint(3, 20))
                self._emit("withdrawn", self._back_office_time(), None)
            return False  # the applicant never came back
        self._move(rng.choice((0, 1, 1, 2, 3, 5, 8, 12)))
        self._emit("correction_received", self._back_office_time(), None, window=self.window, staff=self.clerk)
        self._move(rng.choice((0, 0, 0, 1, 1, 2)))
        self._emit("accepted", self._back_office_time(), None)
        return True

    def _process(self) -> None:
        """From acceptance to completion and delivery."""
        rng, spec = self.rng, self.spec
        self.start = (self.day, self.second)
        limit = spec.promised if spec.unit != NATURAL else max(1, round(spec.promised * 5 / 7))
        statutory = spec.statutory if spec.unit != NATURAL else max(1, round(spec.statutory * 5 / 7))
        extension = rng.randint(5, 10) if spec.profile != INSTANT and rng.random() < EXTENDED else 0
        special = None
        if rng.random() < SPECIAL[spec.profile]:
            special_type = rng.choice(tuple(SPECIAL_PROCEDURES))
            special_limit = SPECIAL_PROCEDURES[special_type]
            special_days = (
                special_limit + rng.randint(1, 10) if rng.random() < SPECIAL_OVERDUE else rng.randint(1, special_limit)
            )
            special = (special_type, special_limit, special_days)
        pause = special[2] if special else 0
        # the working-day offset (from acceptance) on which the case is completed
        roll = rng.random()
        if roll < STATUTORY_OVERDUE:
            finish = statutory + extension + pause + rng.randint(1, 10)
        elif roll < STATUTORY_OVERDUE + PROMISE_OVERDUE:
            finish = limit + extension + pause + rng.randint(1, 5)
        elif spec.profile == INSTANT:
            finish = 0 if rng.random() < 0.85 else 1
        else:
            finish = pause + int((limit + extension) * rng.random() ** 1.4)

        if rng.random() < WITHDRAWN:
            self._goto(rng.randint(0, max(0, finish)))
            self._emit("withdrawn", self._back_office_time(), None, window=self.window, staff=self.clerk)
            if self.anomaly == "event_after_end":
                self._move(rng.randint(1, 3))
                self._emit("completed", self._back_office_time(), {"result": "approved"})
            return
        if extension:
            self._goto(max(0, limit - rng.randint(1, 3)))
            self._emit(
                "extended",
                self._back_office_time(),
                {"days": extension, **({"approved_by": person_name(rng)} if rng.random() < 0.8 else {})},
            )
        ends = [self._steps(finish)]
        if special:
            ends.append(self._special(finish, *special))
            if ends[-1] is None:
                return  # still paused when the data ends
        self._goto(finish)
        latest = max([e for e in ends if e is not None] + [(self.day, self.second)])
        self.day, self.second = latest
        self._complete()

    def _complete(self) -> None:
        rng, spec = self.rng, self.spec
        approved = rng.random() >= DENIED
        payload: dict = {"result": "approved" if approved else "denied"}
        if approved and spec.fee:
            payload["fee_charged"] = spec.fee + (rng.choice((10, 20, 50, 100)) if rng.random() < FEE_OVERCHARGED else 0)
        elif approved and rng.random() < FREE_CHARGED:
            payload["fee_charged"] = rng.choice((10, 20, 50))
        elif rng.random() < 0.2:
            payload["fee_charged"] = 0
        at_window = spec.profile == INSTANT and self.window is not None and self.day == self.start[0]
        if at_window:
            self.second += rng.randint(60, 600)
        self._emit(
            "completed",
            self._now() if at_window else self._back_office_time(),
            payload,
            window=self.window if at_window else None,
            staff=self.clerk if at_window else None,
        )
        if self.anomaly == "duplicate_completion":
            self._move(rng.randint(0, 2))
            self._emit("completed", self._back_office_time(), payload)
        if not approved or rng.random() >= DELIVERED:
            return
        if at_window:
            self.second += rng.randint(30, 300)
            self._emit("delivered", self._now(), None, window=self.window, staff=self.clerk)
        else:
            late = rng.random() < DELIVERY_LATE
            self._move(rng.randint(11, 16) if late else rng.choice((0, 0, 1, 1, 2, 3, 5)))
            self._emit("delivered", self._back_office_time(), None)
        if self.anomaly == "event_after_end" and rng.random() < 0.5:
            self._move(rng.randint(1, 4))
            self._emit("step_started", self._back_office_time(), {"step_id": "S9", "name": "补充审查", "limit_days": 5})

    def _special(self, finish: int, kind: str, limit: int, days: int) -> tuple[date, int] | None:
        """A special procedure (特别程序, 第45条) of `days` working days; returns when it ends (None: still open)."""
        rng = self.rng
        special_id = f"T{rng.randint(1, 9)}"
        self._goto(rng.randint(0, max(0, finish - days)))
        self._emit(
            "special_started", self._back_office_time(), {"special_id": special_id, "type": kind, "limit_days": limit}
        )
        if rng.random() < SPECIAL_LEFT_OPEN:
            return None
        self._move(days)
        self._emit("special_ended", self._back_office_time(), {"special_id": special_id})
        if self.anomaly == "special_end_without_start":
            self._emit("special_ended", self._back_office_time(), {"special_id": "T0"})
        return self.day, self.second

    def _steps(self, finish: int) -> tuple[date, int] | None:
        """Approval steps between acceptance and completion; returns when the last one ends."""
        rng, spec, office = self.rng, self.spec, self.office
        plans: list[tuple[Office, Department, str, bool]] = []  # where, who, what, vertical?
        if spec.profile == REVIEW or spec.profile == SIMPLE and rng.random() < 0.6:
            plans += [(office, self.dept, name, False) for name in rng.sample(STEP_NAMES, rng.randint(2, 3))]
        elif spec.profile == JOINT:
            plans.append((office, self.dept, "受理审查", False))
            plans += [
                (office, office.departments[code], "并联审查", False)
                for code in spec.joint
                if code in office.departments and rng.random() < 0.85
            ]
        elif spec.profile == VERTICAL:
            plans.append((office, self.dept, "初审", False))
            above = office.parent
            while above is not None and spec.dept in above.departments:
                plans.append((above, above.departments[spec.dept], "审核" if above.parent else "审批", True))
                above = above.parent if rng.random() < 0.1 else None
        if self.anomaly == "step_end_without_start":
            self._goto(max(0, finish - 1))
            self._emit("step_completed", self._back_office_time(), {"step_id": "S0"})
        if not plans:
            return None
        parallel = spec.profile == JOINT
        span = max(1, finish)
        first = max(1, span // 3) if parallel else max(1, span // len(plans))
        first_end = last_end = None  # (day, second) where the first / latest step ended
        for n, (where, dept, name, vertical) in enumerate(plans, start=1):
            if n == 1:
                self._goto(0)
                duration = first
            elif parallel:  # the consulted departments work side by side once the first review is done
                self.day, self.second = first_end
                duration = max(1, span - first - rng.randint(0, 1))
            else:  # one after the other
                self.day, self.second = last_end
                duration = first
            limit_days = max(duration, rng.randint(3, 10))
            if rng.random() < STEP_OVERDUE:
                limit_days = max(1, duration - rng.randint(1, 3))
                duration = limit_days + rng.randint(1, 4)
            step_id = f"S{n}"
            payload = {"step_id": step_id, "name": name, "limit_days": limit_days}
            if vertical or rng.random() < 0.7:
                payload["level"] = where.center.level
            staff = rng.choice(where.back_office[dept.dept_id]).staff_id
            self._emit(
                "step_started",
                self._back_office_time(),
                payload,
                center=where.center.center_id,
                dept=dept.dept_id,
                staff=staff,
                system=dept.system,
            )
            self._move(rng.randint(0, duration) if duration <= 1 else duration - rng.randint(0, 1))
            self._emit(
                "step_completed",
                self._back_office_time(),
                {"step_id": step_id},
                center=where.center.center_id,
                dept=dept.dept_id,
                staff=staff,
                system=dept.system,
            )
            if n == 1:
                first_end = (self.day, self.second)
            if last_end is None or (self.day, self.second) > last_end:
                last_end = (self.day, self.second)
        return last_end

    # -- the cursor on the working timeline --------------------------------------------

    def _now(self) -> int:
        return self.days.midnight(self.day) + self.second

    def _move(self, working_days: int) -> None:
        """Advance the cursor by whole working days (0: stay on the day)."""
        if working_days > 0:
            self.day = self.cal.add_working(self.day, working_days)
            self.second = 0

    def _goto(self, working_days: int) -> None:
        """Put the cursor `working_days` working days after acceptance (at acceptance itself for 0)."""
        if working_days <= 0:
            self.day, self.second = self.start
        else:
            self.day, self.second = self.cal.add_working(self.start[0], working_days), 0

    def _back_office_time(self) -> int:
        """The next moment a back office works at, on the cursor's day or the following working days."""
        rng, cal = self.rng, self.cal
        while True:
            if cal.is_working_day(self.day):
                second = traffic.work_time(rng, self.day, self.second + rng.randint(60, 2400) if self.second else 0)
                if second is not None:
                    self.second = second
                    return self._now()
            self.day, self.second = cal.next_working_day(self.day), 0

    def _counter(self):
        """The window (and clerk) serving a window applicant: the department's, or a comprehensive one."""
        rng, office = self.rng, self.office
        own = office.counter.get(self.dept.dept_id)
        windows = own if own and rng.random() > 0.3 else office.counter.get(None) or own
        window = rng.choice(windows)
        clerks = office.window_staff.get(window.window_id)
        return window, (rng.choice(clerks) if clerks else None)

    def _emit(
        self,
        kind: str,
        at: int,
        payload: dict | None,
        *,
        item_code: str | None = None,
        window=None,
        staff=None,
        center: str | None = None,
        dept: str | None = None,
        system: str | None = None,
    ) -> None:
        if staff is None and window is None and dept is None:
            back = self.office.back_office.get(self.dept.dept_id)
            staff_id = self.rng.choice(back).staff_id if back else None
        else:
            staff_id = staff if isinstance(staff, str) else (staff.staff_id if staff else None)
        self.events.append(
            Event(
                self.case_no,
                kind,
                at,
                center or self.office.center.center_id,
                dept or self.dept.dept_id,
                window.window_id if window is not None else None,
                staff_id,
                item_code,
                payload,
                system or self.dept.system,
            )
        )
