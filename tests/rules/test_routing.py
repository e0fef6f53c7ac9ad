"""The routing file and its pure decisions: matching, groups, timing, active times, escalation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import WorkCalendar
from rules.routing import (
    DEFAULT_ROUTES,
    AlarmLabels,
    GroupState,
    RoutesError,
    Silence,
    escalation_step,
    group_key,
    inhibited,
    next_message,
    parse_routes,
    send_at,
)

CST = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


RED = AlarmLabels("alarm", "receipt_unprocessed", "C0301", "D07", ("C03", "R"))
YELLOW = AlarmLabels("warning", "nearly_due", "C0301", "D07", ("C03", "R"))

TREE = """
[[receivers]]
name = "county-sms"
type = "sms"

[[receivers]]
name = "city-wecom"
type = "wecom"
url = "http://127.0.0.1:9/cgi-bin/webhook/send?key=K"

[[receivers]]
name = "audit-hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[route]
receiver = "audit-hook"
group_by = ["center", "kind"]

[[route.routes]]
match = { level = "red" }
receiver = "audit-hook"
continue = true

[[route.routes]]
match = { center = "C03" }
receiver = "city-wecom"
group_wait = "1m"

  [[route.routes.routes]]
  match = { kind = ["receipt_unprocessed", "overdue"] }
  receiver = "county-sms"
  group_by = ["center", "department"]

[[route.routes]]
match = { level = "warning" }
receiver = "county-sms"
"""


@pytest.mark.parametrize(
    "labels, paths",
    [
        # red continues past its first route and goes on down the C03 city branch to the leaf
        (RED, ["0.0", "0.1.0"]),
        # a county center matches its city's route; a yellow of another kind stops at the city route
        (YELLOW, ["0.1"]),
        # another city: a warning falls through to the third route
        (AlarmLabels("warning", "nearly_due", "C0401", "D01", ("C04", "R")), ["0.2"]),
        # nothing matches below the root: the root takes it
        (AlarmLabels("alarm", "overdue", "C0401", None, ("C04", "R")), ["0.0"]),
    ],
)
def test_matching_follows_the_tree(labels, paths):
    routes = parse_routes(TREE)
    assert [r.path for r in routes.match(labels)] == paths


def test_children_inherit_and_override():
    routes = parse_routes(TREE)
    leaf = routes.route("0.1.0")
    assert leaf.group_wait == timedelta(minutes=1)  # from its parent
    assert leaf.group_by == ("center", "department")  # its own
    assert leaf.repeat_interval == timedelta(hours=4)  # the default
    assert group_key(leaf, "county-sms", RED) == "0.1.0/county-sms/{center=C0301,department=D07}"


def test_default_routes_send_red_only():
    routes = parse_routes(DEFAULT_ROUTES)
    assert [r.receivers for r in routes.match(RED)] == [("responsible-sms",)]
    assert [r.receivers for r in routes.match(YELLOW)] == [()]  # the root: nobody


@pytest.mark.parametrize(
    "text, says",
    [
        ('[route]\ngroup_wait = "5x"\n', "line 2: route 0: group_wait '5x' is not a duration"),
        ('[route]\nreceiver = "nobody"\n', "line 2: route 0: no receiver named 'nobody'"),
        (
            '[route]\n[[route.routes]]\nmatch = { colour = "red" }\n',
            "line 3: route 0.0: unknown label 'colour' to match",
        ),
        ('[route]\n[[route.routes]]\nmatch = { level = "blue" }\n', "line 3: route 0.0: level 'blue' is neither"),
        (
            '[[receivers]]\nname = "x"\ntype = "pager"\n[route]\n',
            "line 2: receiver 'x': type 'pager' is not one of",
        ),
        ('[[receivers]]\nname = "d"\ntype = "dingtalk"\nurl = "https://x"\n[route]\n', "needs 'secret'"),
        (
            '[route]\nactive_time = { days = "working", hours = ["12:00-08:30"] }\n',
            "line 2: route 0: active_time hours '12:00-08:30' is not a span",
        ),
        ('[route]\ncontinue = "yes"\n', "line 2: route 0: continue must be true or false"),
        ('[route]\nrecevier = "x"\n', "line 2: route 0: unknown key 'recevier'"),
        ("[route\n", "not valid TOML"),
        ('[[receivers]]\nname = "x"\ntype = "sms"\n', "the file has no [route] table"),
    ],
)
def test_a_fault_is_one_line_naming_its_line(text, says):
    with pytest.raises(RoutesError) as caught:
        parse_routes(text)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


WORKING_HOURS = parse_routes(DEFAULT_ROUTES).route("0.0")
OFFICIAL = WorkCalendar()


@pytest.mark.parametrize(
    "due, expected, calendar",
    [
        # inside the morning hours of a working day: at once
        ("2026-09-30 09:00", "2026-09-30 09:00", OFFICIAL),
        # the evening before National Day: held through the whole holiday, to the first working morning
        ("2026-09-30 18:00", "2026-10-08 08:30", OFFICIAL),
        # 2026-10-10 is a make-up Saturday (调休): it counts
        ("2026-10-09 17:45", "2026-10-10 08:30", OFFICIAL),
        # the lunch break waits for the afternoon
        ("2026-10-10 12:05", "2026-10-10 14:30", OFFICIAL),
        # 12:00 is the end of the morning span, not in it
        ("2026-10-10 12:00", "2026-10-10 14:30", OFFICIAL),
        # Sunday 2026-10-11 is an ordinary day off
        ("2026-10-10 18:00", "2026-10-12 08:30", OFFICIAL),
        # a center closed on Monday 2026-10-12 (its own calendar) waits one more day
        ("2026-10-10 18:00", "2026-10-13 08:30", WorkCalendar(extra_closures=[date(2026, 10, 12)])),
        # a center that opens on Sunday 2026-10-11 speaks then
        ("2026-10-10 18:00", "2026-10-11 08:30", WorkCalendar(extra_working_days=[date(2026, 10, 11)])),
    ],
)
def test_active_time_follows_the_centers_calendar(due, expected, calendar):
    assert send_at(at(due), WORKING_HOURS, calendar, CST) == at(expected)


ROUTE = WORKING_HOURS  # group_wait 30s, group_interval 5m, repeat_interval 4h
T0 = at("2026-10-09 09:00")


@pytest.mark.parametrize(
    "state, expected",
    [
        (GroupState(T0, None, True, 3), T0 + timedelta(seconds=30)),  # new group: group_wait
        (GroupState(T0, T0, True, 3), T0 + timedelta(minutes=5)),  # more came: group_interval after the last
        (GroupState(T0, T0, False, 3), T0 + timedelta(hours=4)),  # nothing new, still firing: repeat
        (GroupState(T0, T0, True, 0), None),  # all resolved: nothing more to say
        (GroupState(T0, None, True, 0), None),  # resolved before it ever spoke
    ],
)
def test_group_timing(state, expected):
    assert next_message(state, ROUTE) == expected


@pytest.mark.parametrize(
    "elapsed, above, step",
    [
        (timedelta(hours=3, minutes=59), 2, 0),
        (timedelta(hours=4), 2, 1),  # county center → city center
        (timedelta(hours=8), 2, 2),  # → region
        (timedelta(hours=40), 2, 2),  # no level above the region
        (timedelta(hours=9), 1, 1),  # a city center's alarm has only the region above
    ],
)
def test_escalation_climbs_a_level_per_period(elapsed, above, step):
    assert escalation_step(T0, T0 + elapsed, ROUTE, above) == step


def test_red_inhibits_the_yellow_of_its_case_only():
    assert inhibited("warning", "A1", {"A1"})
    assert not inhibited("warning", "A2", {"A1"})
    assert not inhibited("alarm", "A1", {"A1"})


def test_silence_state_is_derived_from_its_instants():
    silence = Silence(1, {"center": frozenset({"C03"})}, T0, T0 + timedelta(hours=1))
    assert [
        silence.state_at(T0 - timedelta(seconds=1)),
        silence.state_at(T0),
        silence.state_at(T0 + timedelta(hours=1)),
    ] == [
        "pending",
        "active",
        "expired",  # the end instant itself is no longer muted
    ]
    assert silence.mutes(RED, T0)  # a city silence mutes its counties
    assert not silence.mutes(AlarmLabels("alarm", "overdue", "C0401", None, ("C04", "R")), T0)
