"""Window unattended (空岗): a staffed window's seat left empty in office hours.

Service-hall rules say a window must not be left empty during office hours
("擅自离岗十五分钟以上" costs points). The camera workers tell, keyframe by
keyframe and with hysteresis, whether the seat is occupied; what they conclude
is a stretch of time the seat was seen empty: from `empty_since` until
`empty_until` (someone sat down, or the camera lost its view), or still going.

Only office time counts, and the choices are these:

- office time is the center's hours (default 09:00–17:00) on its working days
  (the official calendar with its make-up days and the center's own closures
  and extra days, :class:`rules.calendar.WorkCalendar`), minus a lunch break
  (default 12:00–13:30; None for a hall that stays open);
- the lunch break pauses the count, it does not reset it: empty from 11:55 to
  13:40 is 15 minutes of 空岗, fired at 13:40;
- each office day counts on its own: the count starts again at the day's
  opening, so an empty seat at 09:15 is 空岗 however long ago it was last
  occupied, and an alarm ends (resolved) when the office day ends;
- a window marked closed for the day (`closed_days`) raises nothing that day;
- a camera fault (offline, covered) is the camera's own alarm, never a 空岗:
  the stretch ends where the fault begins, and a stretch seen only after a fault
  starts when the fault ends. A 空岗 open when its camera fails closes then, as
  nobody can tell any more whether someone sat down;
- `window_unattended` (yellow) fires when the office time empty reaches the
  first limit (15 min), `window_unattended_long` (red) at the second (30 min);
  the yellow one is resolved when the red one fires, as promise_warning is by
  promise_overdue. fired_at is the instant the limit was reached, not when the
  software noticed. One alarm per stretch and day: subject = the window and the
  instant the day's count began.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from rules.alarms import AlarmFact, make_fact
from rules.calendar import WorkCalendar

YELLOW = "window_unattended"
RED = "window_unattended_long"
KINDS = (YELLOW, RED)
YELLOW_AFTER = timedelta(minutes=15)
RED_AFTER = timedelta(minutes=30)
LONGEST_LOOK_BACK = timedelta(days=62)  # a stretch older than this counts from here on

Place = tuple[str | None, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """A center's office hours on its working days, with an optional lunch break."""

    opens: time = time(9, 0)
    closes: time = time(17, 0)
    lunch: tuple[time, time] | None = (time(12, 0), time(13, 30))

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError(f"office hours open at {self.opens} and close at {self.closes}: opening must come first")
        if self.lunch is not None and not self.opens <= self.lunch[0] < self.lunch[1] <= self.closes:
            raise ValueError(f"lunch break {self.lunch[0]}–{self.lunch[1]} is not within {self.opens}–{self.closes}")

    def spans(self, day: date, zone: tzinfo) -> list[tuple[datetime, datetime]]:
        """The office spans of `day` (morning and afternoon), as aware instants."""
        at = lambda t: datetime.combine(day, t, zone)
        if self.lunch is None:
            return [(at(self.opens), at(self.closes))]
        return [(at(self.opens), at(self.lunch[0])), (at(self.lunch[1]), at(self.closes))]


@dataclass(frozen=True, slots=True)
class Office:
    """Where office time comes from: the center's calendar, its hours and its time zone."""

    calendar: WorkCalendar
    zone: tzinfo
    hours: OfficeHours = OfficeHours()

    def day_spans(self, day: date, closed_days: Collection[date] = ()) -> list[tuple[datetime, datetime]]:
        """The office spans of `day`, none on a day off or a day the window is closed."""
        if day in closed_days or not self.calendar.is_working_day(day):
            return []
        return self.hours.spans(day, self.zone)

    def overlap(
        self, start: datetime, end: datetime, closed_days: Collection[date] = ()
    ) -> list[tuple[datetime, datetime]]:
        """The parts of [start, end) in office time, oldest first."""
        found = []
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for a, b in self.day_spans(day, closed_days):
                a, b = max(a, start), min(b, end)
                if a < b:
                    found.append((a, b))
            day += timedelta(days=1)
        return found


def window_unattended(
    empty_since: datetime,
    now: datetime,
    office: Office,
    *,
    empty_until: datetime | None = None,
    closed_days: Collection[date] = (),
    camera_faults: Iterable[tuple[datetime, datetime | None]] = (),
    limits: tuple[timedelta, timedelta] = (YELLOW_AFTER, RED_AFTER),
    place: Place = (None, None, None, None),
    camera_id: str | None = None,
) -> list[AlarmFact]:
    """The 空岗 facts of one stretch of empty seat, judged at `now` (see the module's docstring).

    `empty_since`: the first keyframe that showed the seat empty (after hysteresis);
    `empty_until`: the first that showed someone sitting, or the instant the view was
    lost; None while the seat is still seen empty. `camera_faults`: the camera's
    outages and coverings as (start, end or None), any of them.
    """
    yellow_after, red_after = limits
    if not timedelta(0) < yellow_after <= red_after:
        raise ValueError(f"limits {yellow_after} and {red_after}: the first must be positive and not after the second")
    start, end = _seen_empty(empty_since, empty_until, camera_faults, now)
    if start is None:
        return []
    over = empty_until is not None or end < now  # the seat was seen occupied again, or the view was lost
    facts = []
    for day, spans in _office_days(office, max(start, now - LONGEST_LOOK_BACK), end, closed_days):
        day_close = office.day_spans(day, closed_days)[-1][1]
        ends = min(end, day_close) if over else day_close
        red_at = _reached(spans, red_after)
        subject = f"{place[2] or camera_id or ''} {spans[0][0].isoformat()}"
        for kind, limit, superseded_at in ((YELLOW, yellow_after, red_at), (RED, red_after, None)):
            fired_at = _reached(spans, limit)
            if fired_at is None or fired_at > now:
                continue
            ended_at = ends if superseded_at is None else min(superseded_at, ends)
            facts.append(
                make_fact(
                    kind,
                    case_no=None,
                    subject=subject,
                    fired_at=fired_at,
                    ended_at=ended_at,
                    due=None,
                    place=place,
                    camera_id=camera_id,
                )
            )
    return facts


def office_minutes(
    spans: Iterable[tuple[datetime, datetime]], office: Office, closed_days: Collection[date] = ()
) -> float:
    """Minutes of `spans` (e.g. the seat seen occupied) that fall in office time: attendance."""
    seconds = sum((b - a).total_seconds() for start, end in spans for a, b in office.overlap(start, end, closed_days))
    return seconds / 60


# -- internals -------------------------------------------------------------------


def _seen_empty(
    since: datetime, until: datetime | None, faults: Iterable[tuple[datetime, datetime | None]], now: datetime
) -> tuple[datetime | None, datetime]:
    """The part of [since, until or now) the camera really saw: from after a fault it began in, to the next fault."""
    end = min(until, now) if until is not None else now
    for fault_start, fault_end in sorted(faults, key=lambda f: f[0]):
        if fault_start <= since:
            if fault_end is None:
                return None, end
            since = max(since, fault_end)
        elif fault_start < end:
            end = fault_start
            break
    return (since, end) if since < end else (None, end)


def _office_days(office: Office, start: datetime, end: datetime, closed_days: Collection[date]):
    """(day, office spans of that day within [start, end)) for each office day touched, oldest first."""
    by_day: dict[date, list[tuple[datetime, datetime]]] = {}
    for a, b in office.overlap(start, end, closed_days):
        by_day.setdefault(a.astimezone(office.zone).date(), []).append((a, b))
    return sorted(by_day.items())


def _reached(spans: list[tuple[datetime, datetime]], limit: timedelta) -> datetime | None:
    """The instant the time counted over `spans` reaches `limit`, or None if it does not."""
    left = limit
    for a, b in spans:
        if b - a >= left:
            return a + left
        left -= b - a
    return None
