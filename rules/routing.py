"""Notification routes (路由): which alarms go to whom, grouped how, and when — the pure part.

The routing file (``SUPERVISE_ROUTES``, TOML) follows Prometheus Alertmanager's model:

* a tree of routes under ``[route]``; a route matches on ``level``, ``kind``, ``center``
  (a city's route also matches its counties) and ``department``; an alarm goes down to the
  deepest routes that match it, the first matching child only unless that child says
  ``continue = true``;
* each matching route hands the alarm to its receivers, in a group per receiver and per
  values of ``group_by`` (default center, department, kind): one message per group;
* a group speaks ``group_wait`` after its first alarm, then at most every ``group_interval``
  when alarms came or went, and again every ``repeat_interval`` while some still fire;
* ``active_time`` holds (never drops) messages outside e.g. working days 08:30–12:00 and
  14:30–17:30, working days in the *center's own* calendar (make-up days 调休 included);
* ``escalate_after``: an alarm still unacknowledged this long after it fired goes to the
  next level up (county center → city center → region), one more level per period.

No I/O and no clock here: the file's text, the instant and the calendar are arguments.
A mistake in the file is a :class:`RoutesError`, one line naming the line and the fault.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo

from rules.calendar import WorkCalendar

LABELS = ("level", "kind", "center", "department")
LEVEL_NAMES = {
    "alarm": "alarm",
    "red": "alarm",
    "红": "alarm",
    "warning": "warning",
    "yellow": "warning",
    "黄": "warning",
}
RECEIVER_TYPES = ("sms", "wecom", "dingtalk", "email", "webhook")
PLACES = ("department", "center")  # whose contacts a receiver reaches

DEFAULT_GROUP_BY = ("center", "department", "kind")
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)

DEFAULT_ROUTES = """\
# The default routes: every red alarm goes by SMS to the contacts of its department and of its
# center, on working days 08:30-12:00 and 14:30-17:30 of the center's own calendar (held, never
# dropped, outside them); one message per center, department and kind; still unacknowledged
# after 4 hours, it goes one level up (county → city → region).

[[receivers]]
name = "responsible-sms"
type = "sms"
to = ["department", "center"]

[route]
group_by = ["center", "department", "kind"]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "4h"

[[route.routes]]
match = { level = "alarm" }
receiver = "responsible-sms"
active_time = { days = "working", hours = ["08:30-12:00", "14:30-17:30"] }
escalate_after = "4h"
"""


class RoutesError(ValueError):
    """A fault in the routing file: one line, naming the line where it can be found."""


# --- what an alarm is, for routing ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmLabels:
    level: str  # 'alarm' (red) or 'warning' (yellow)
    kind: str
    center: str | None
    department: str | None
    centers_above: tuple[str, ...] = ()  # the center's parents, nearest first (city, region)

    def value(self, label: str) -> str | None:
        return getattr(self, label)


# --- the file's model ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveTime:
    """When messages may go out: every day or working days only, within these local hours."""

    working_days_only: bool
    hours: tuple[tuple[time, time], ...]  # [start, end) local, sorted; empty: the whole day

    def is_active(self, instant: datetime, calendar: WorkCalendar, zone: tzinfo) -> bool:
        local = instant.astimezone(zone)
        if self.working_days_only and not calendar.is_working_day(local.date()):
            return False
        clock = local.time().replace(tzinfo=None)
        return not self.hours or any(start <= clock < end for start, end in self.hours)

    def next_active(self, instant: datetime, calendar: WorkCalendar, zone: tzinfo) -> datetime:
        """`instant` itself if messages may go out then, else the first instant after it that they may."""
        if self.is_active(instant, calendar, zone):
            return instant
        local = instant.astimezone(zone)
        day = local.date()
        for _ in range(400):  # a year of closed days is a calendar fault, not a wait
            if not self.working_days_only or calendar.is_working_day(day):
                for start, _end in self.hours or ((time(0), time(0)),):
                    opening = datetime.combine(day, start, tzinfo=zone)
                    if opening > local:
                        return opening
            day += timedelta(days=1)
        raise ValueError(f"no active time within 400 days of {instant.isoformat()}")


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    type: str
    to: tuple[str, ...] = ()  # whose contacts: 'department', 'center'
    roles: tuple[str, ...] = ()  # only contacts with one of these roles (empty: all)
    settings: Mapping[str, object] = field(default_factory=dict)  # url, secret, smtp… (never shown)

    def __repr__(self) -> str:  # secrets never reach a log line through a repr
        return f"Receiver({self.name!r}, {self.type!r})"


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # '0' the root, '0.1' its second child…
    matchers: Mapping[str, frozenset[str]]
    receivers: tuple[str, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    active_time: ActiveTime | None
    escalate_after: timedelta | None
    routes: tuple[Route, ...] = ()

    def matches(self, labels: AlarmLabels) -> bool:
        for label, wanted in self.matchers.items():
            if label == "center":
                if not ({labels.center, *labels.centers_above} & wanted):
                    return False
            elif labels.value(label) not in wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Routes:
    root: Route
    receivers: Mapping[str, Receiver]
    text: str

    def match(self, labels: AlarmLabels) -> list[Route]:
        """The routes that take this alarm (Alertmanager's order): deepest matches, first child
        only unless it continues; the root if no child matches."""
        return _match(self.root, labels)

    def route(self, path: str) -> Route | None:
        return _find(self.root, path)


def _match(route: Route, labels: AlarmLabels) -> list[Route]:
    if not route.matches(labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        below = _match(child, labels)
        found += below
        if below and not child.continue_:
            break
    return found or [route]


def _find(route: Route, path: str) -> Route | None:
    if route.path == path:
        return route
    for child in route.routes:
        if path.startswith(child.path):
            return _find(child, path)
    return None


# --- grouping and timing -------------------------------------------------------------------------


def group_key(route: Route, receiver: str, labels: AlarmLabels) -> str:
    """The group an alarm joins on this route for this receiver: route, receiver and group_by values."""
    values = ",".join(f"{label}={labels.value(label) or ''}" for label in route.group_by)
    return f"{route.path}/{receiver}/{{{values}}}"


def group_labels(route: Route, labels: AlarmLabels) -> dict[str, str | None]:
    return {label: labels.value(label) for label in route.group_by}


@dataclass(frozen=True, slots=True)
class GroupState:
    first_at: datetime  # the first alarm's arrival in the group
    flushed_at: datetime | None  # the last message
    changed: bool  # alarms came or went since the last message
    firing: int  # alarms still firing (not inhibited, not silenced)


def next_message(state: GroupState, route: Route) -> datetime | None:
    """When the group speaks next, before active times: None if it has nothing to say."""
    if state.flushed_at is None:
        return state.first_at + route.group_wait if state.firing else None
    if state.changed and state.firing:
        return state.flushed_at + route.group_interval
    if state.firing:
        return state.flushed_at + route.repeat_interval
    return None


def send_at(due: datetime, route: Route, calendar: WorkCalendar, zone: tzinfo) -> datetime:
    """`due` held until the route's active time opens, in the center's calendar."""
    return route.active_time.next_active(due, calendar, zone) if route.active_time else due


def escalation_step(fired_at: datetime, now: datetime, route: Route, levels_above: int) -> int:
    """How many levels up an alarm unacknowledged since `fired_at` should have reached at `now`."""
    if route.escalate_after is None or levels_above <= 0 or now < fired_at:
        return 0
    return min(int((now - fired_at) / route.escalate_after), levels_above)


# --- inhibition and silences ----------------------------------------------------------------------


def inhibited(level: str, case_no: str | None, red_cases: Iterable[str]) -> bool:
    """A yellow alarm of a case with a red one firing says nothing: the red one says more."""
    return level == "warning" and case_no is not None and case_no in red_cases


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    matchers: Mapping[str, frozenset[str]]
    starts_at: datetime
    ends_at: datetime

    def state_at(self, now: datetime) -> str:
        """pending, active or expired: derived from the two instants, never stored."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: AlarmLabels, now: datetime) -> bool:
        if self.state_at(now) != "active":
            return False
        probe = Route("", self.matchers, (), False, (), timedelta(), timedelta(), timedelta(), None, None)
        return probe.matches(labels)


def parse_matchers(
    values: Mapping[str, object], where: Callable[[str], str] = lambda _: "", context: str = ""
) -> dict[str, frozenset[str]]:
    """{'level': 'red', 'center': ['C1', 'C2']} → label → the values it accepts."""
    out: dict[str, frozenset[str]] = {}
    for label, value in values.items():
        if label not in LABELS:
            raise RoutesError(
                f"{where(label)}{context}unknown label {label!r} to match (expected one of {', '.join(LABELS)})"
            )
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v for v in items):
            raise RoutesError(f"{where(label)}{context}match {label} must be a name or a list of names, got {value!r}")
        if label == "level":
            unknown = [v for v in items if v not in LEVEL_NAMES]
            if unknown:
                raise RoutesError(
                    f"{where(label)}{context}level {unknown[0]!r} is neither alarm (red) nor warning (yellow)"
                )
            items = [LEVEL_NAMES[v] for v in items]
        out[label] = frozenset(items)
    return out


# --- reading the file ------------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_ROUTE_KEYS = {
    "match",
    "receiver",
    "receivers",
    "continue",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "active_time",
    "escalate_after",
    "routes",
}
_RECEIVER_KEYS = {"name", "type", "to", "roles"}
_RECEIVER_SETTINGS = {
    "sms": set(),
    "wecom": {"url", "msgtype", "mention"},
    "dingtalk": {"url", "secret", "mention"},
    "email": {"host", "port", "username", "password", "sender", "addresses", "starttls", "timeout", "cafile"},
    "webhook": {"url", "timeout"},
}
_NEEDS = {"wecom": ("url",), "dingtalk": ("url", "secret"), "email": ("host", "sender"), "webhook": ("url",)}


def parse_duration(value: object) -> timedelta:
    """'30s', '5m', '4h', '1d', '1h30m' → timedelta; ValueError otherwise."""
    if not isinstance(value, str) or not value or not (found := _DURATION.fullmatch(value.strip())):
        raise ValueError(f"{value!r} is not a duration (write e.g. 30s, 5m, 4h, 1d)")
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_active_time(value: object) -> ActiveTime:
    """{days = "working" | "all", hours = ["08:30-12:00", "14:30-17:30"]}."""
    if not isinstance(value, dict) or set(value) - {"days", "hours"}:
        raise ValueError(f'active_time must be {{ days = "working", hours = ["08:30-12:00"] }}, got {value!r}')
    days = value.get("days", "all")
    if days not in ("working", "all"):
        raise ValueError(f'active_time days must be "working" or "all", got {days!r}')
    spans = []
    for text in value.get("hours", []):
        found = _HOURS.fullmatch(text) if isinstance(text, str) else None
        try:
            start, end = (time(int(found[1]), int(found[2])), time(int(found[3]), int(found[4]))) if found else (0, 0)
        except ValueError:
            found = None
        if not found or not start < end:
            raise ValueError(f'active_time hours {text!r} is not a span like "08:30-12:00" within one day')
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ValueError("active_time hours overlap")
    return ActiveTime(days == "working", tuple(spans))


def parse_routes(text: str) -> Routes:
    """The routing file's text → :class:`Routes`; :class:`RoutesError` naming the line of the first fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutesError(f"not valid TOML: {exc}") from None
    where = _Where(text)
    unknown = sorted(set(data) - {"route", "receivers"})
    if unknown:
        raise RoutesError(f"{where(unknown[0])}unknown key {unknown[0]!r} (expected [route] and [[receivers]])")
    receivers = _receivers(data.get("receivers", []), where)
    if not isinstance(data.get("route"), dict):
        raise RoutesError("the file has no [route] table")
    root = _route(data["route"], "0", None, receivers, where)
    return Routes(root, receivers, text)


class _Where:
    """'line N: ' for the first line (comments aside) holding the needle, or ''."""

    def __init__(self, text: str):
        self.lines = [line.split("#", 1)[0] for line in text.splitlines()]

    def __call__(self, *needles: str) -> str:
        for number, line in enumerate(self.lines, start=1):
            if all(needle in line for needle in needles):
                return f"line {number}: "
        return self(needles[0]) if len(needles) > 1 else ""


def _receivers(items: object, where: _Where) -> dict[str, Receiver]:
    if not isinstance(items, list):
        raise RoutesError(f"{where('receivers')}receivers must be an array of tables, [[receivers]]")
    found: dict[str, Receiver] = {}
    for item in items:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise RoutesError(f"{where('[[receivers]]')}a receiver has no name")
        at = where("name", f'"{name}"')
        kind = item.get("type")
        if kind not in RECEIVER_TYPES:
            raise RoutesError(f"{at}receiver {name!r}: type {kind!r} is not one of {', '.join(RECEIVER_TYPES)}")
        bad = sorted(set(item) - _RECEIVER_KEYS - _RECEIVER_SETTINGS[kind])
        if bad:
            raise RoutesError(f"{where(bad[0]) or at}receiver {name!r}: unknown key {bad[0]!r} for type {kind}")
        missing = [key for key in _NEEDS.get(kind, ()) if not item.get(key)]
        if missing:
            raise RoutesError(f"{at}receiver {name!r}: type {kind} needs {missing[0]!r}")
        to = item.get("to", [] if kind in ("wecom", "dingtalk", "webhook") else ["department", "center"])
        if not isinstance(to, list) or any(place not in PLACES for place in to):
            raise RoutesError(f'{where("to") or at}receiver {name!r}: to must list "department" and/or "center"')
        if kind in ("sms",) and not to:
            raise RoutesError(f"{at}receiver {name!r}: an sms receiver needs someone to send to (to)")
        if kind == "email" and not to and not item.get("addresses"):
            raise RoutesError(f"{at}receiver {name!r}: an email receiver needs to or addresses")
        for key in ("url",):
            if key in item and not str(item[key]).startswith(("http://", "https://")):
                raise RoutesError(f"{where(key) or at}receiver {name!r}: url is not an http(s) URL")
        if name in found:
            raise RoutesError(f"{at}receiver {name!r} is defined twice")
        roles = item.get("roles", [])
        settings = {k: v for k, v in item.items() if k not in _RECEIVER_KEYS}
        found[name] = Receiver(name, kind, tuple(to), tuple(roles), settings)
    return found


def _route(data: object, path: str, parent: Route | None, receivers: dict[str, Receiver], where: _Where) -> Route:
    if not isinstance(data, dict):
        raise RoutesError(f"route {path} must be a table")
    bad = sorted(set(data) - _ROUTE_KEYS)
    if bad:
        raise RoutesError(f"{where(bad[0])}route {path}: unknown key {bad[0]!r}")

    def fault(key: str, message: str) -> RoutesError:
        value = data.get(key)
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        return RoutesError(f"{where(key, shown)}route {path}: {message}")

    if path == "0" and "match" in data:
        raise fault("match", "the root route matches every alarm; put match on its routes")
    match = data.get("match", {})
    if not isinstance(match, dict):
        raise fault("match", 'match must be a table, e.g. match = { level = "alarm" }')
    matchers = parse_matchers(match, lambda label: where(label) or where("match"), f"route {path}: ")
    names = data.get("receivers", [data["receiver"]] if "receiver" in data else None)
    if names is None:
        names = list(parent.receivers) if parent else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise fault("receivers", "receivers must be a list of receiver names")
    for name in names:
        if name not in receivers:
            key = "receiver" if "receiver" in data else "receivers"
            raise RoutesError(f"{where(key, name) or where(name)}route {path}: no receiver named {name!r}")
    group_by = data.get("group_by", list(parent.group_by) if parent else list(DEFAULT_GROUP_BY))
    if not isinstance(group_by, list) or any(label not in LABELS for label in group_by):
        raise fault("group_by", f"group_by must list labels among {', '.join(LABELS)}")
    timings = {}
    for key, default in (
        ("group_wait", DEFAULT_GROUP_WAIT),
        ("group_interval", DEFAULT_GROUP_INTERVAL),
        ("repeat_interval", DEFAULT_REPEAT_INTERVAL),
        ("escalate_after", None),
    ):
        inherited = getattr(parent, key) if parent else default
        try:
            timings[key] = parse_duration(data[key]) if key in data else inherited
        except ValueError as exc:
            raise fault(key, f"{key} {exc}") from None
    if timings["group_interval"] <= timedelta(0) or timings["repeat_interval"] <= timedelta(0):
        raise fault(
            "group_interval" if timings["group_interval"] <= timedelta(0) else "repeat_interval",
            "intervals must be longer than 0s",
        )
    if timings["escalate_after"] is not None and timings["escalate_after"] <= timedelta(0):
        raise fault("escalate_after", "escalate_after must be longer than 0s")
    active = parent.active_time if parent else None
    if "active_time" in data:
        try:
            active = parse_active_time(data["active_time"])
        except ValueError as exc:
            raise RoutesError(f"{where('active_time')}route {path}: {exc}") from None
    go_on = data.get("continue", False)
    if not isinstance(go_on, bool):
        raise fault("continue", "continue must be true or false")
    route = Route(
        path,
        matchers,
        tuple(names),
        go_on,
        tuple(group_by),
        timings["group_wait"],
        timings["group_interval"],
        timings["repeat_interval"],
        active,
        timings["escalate_after"],
    )
    children = data.get("routes", [])
    if not isinstance(children, list):
        raise fault("routes", "routes must be an array of tables, [[route.routes]]")
    kids = tuple(_route(child, f"{path}.{i}", route, receivers, where) for i, child in enumerate(children))
    return Route(**{**{f: getattr(route, f) for f in Route.__slots__}, "routes": kids})
