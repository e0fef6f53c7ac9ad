"""Roles: acknowledging, urging and closing alarms and taking evidence are for the
officers above the department (region, city, center). A department's viewer sees
its own alarms, finds no buttons, and is refused by the server when it asks anyway;
each refusal is audited. Each role has its row."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.base.tables import alarm_actions, alarms, audit_log, evidence
from tests.web.conftest import dash_call, login

OWN = "GX-450102:MZ"  # inside every test user's scope
ACTION_OUTPUTS = [("control-room-result", "children"), ("control-room-note", "value"), ("control-room-acted", "data")]
BUTTONS = [
    ("control-room-ack", "n_clicks", 1),
    ("control-room-urge", "n_clicks", 1),
    ("control-room-close", "n_clicks", 1),
]

ROLES = [
    # role, may act
    ("region", True),
    ("city", True),
    ("center", True),
    ("department", False),  # sees its own alarms; answers them through supervision orders, later
]


def act(client, alarm_id: int, action: str):
    return dash_call(
        client,
        ACTION_OUTPUTS,
        BUTTONS,
        state=[
            ("control-room-selected", "data", alarm_id),
            ("control-room-note", "value", "已核实"),
            ("control-room-acted", "data", 0),
        ],
        triggered=f"control-room-{action}.n_clicks",
    )


def alarm_row(region, alarm_id: int) -> dict:
    with region.engine.connect() as conn:
        return dict(conn.execute(select(alarms).where(alarms.c.id == alarm_id)).mappings().one())


def page(client, path: str) -> str:
    response = dash_call(
        client,
        [("shell-page", "children"), ("shell-root", "className")],
        [("shell-url", "pathname", path), ("shell-url", "search", "")],
    )
    assert response.status_code == 200
    return json.dumps(response.json, ensure_ascii=False)


@pytest.mark.parametrize("role,may_act", ROLES)
@pytest.mark.parametrize("action", ["ack", "urge", "close"])
def test_alarm_actions_by_role(web_app, region, role, may_act, action):
    client = login(web_app.test_client(), region.users[role])
    alarm_id = region.alarm_ids[OWN][0]
    response = act(client, alarm_id, action)
    assert response.status_code == 200
    with region.engine.connect() as conn:
        done = (
            conn.execute(
                select(alarm_actions.c.actor).where(
                    alarm_actions.c.alarm_id == alarm_id, alarm_actions.c.action == action
                )
            )
            .scalars()
            .all()
        )
        refusals = (
            conn.execute(
                select(audit_log.c.detail).where(
                    audit_log.c.action == "denied", audit_log.c.target == f"alarm:{alarm_id}"
                )
            )
            .scalars()
            .all()
        )
    if may_act:
        assert done == [region.users[role]]
    else:
        assert done == [] and alarm_row(region, alarm_id)["state"] == "open"
        assert "上级监察人员" in json.dumps(response.json, ensure_ascii=False)
        assert refusals == [{"action": action, "reason": "role"}]


@pytest.mark.parametrize("role,may_act", ROLES)
def test_buttons_shown_by_role(web_app, region, role, may_act):
    client = login(web_app.test_client(), region.users[role])
    control_room = page(client, "/")
    case = page(client, f"/case/{region.case_nos[OWN][0]}")
    for button in ("control-room-ack", "control-room-urge", "control-room-close", "control-room-note"):
        assert (button in control_room) is may_act, button
    assert ("case-take-evidence" in case) is may_act
    assert ("control-room-view-only" in control_room) is not may_act
    assert "case-facts" in case  # the department still sees its own case


def test_department_may_not_take_evidence(web_app, region, monkeypatch):
    from video import evidence as video_evidence

    asked = []
    monkeypatch.setattr(video_evidence, "request", lambda *a, **k: asked.append(a))
    client = login(web_app.test_client(), region.users["department"])
    case_no = region.case_nos[OWN][1]
    response = dash_call(
        client,
        [("case-evidence-result", "children"), ("case-evidence-block", "children")],
        [("case-take-evidence", "n_clicks", 1)],
        state=[("case-no", "data", case_no)],
    )
    assert response.status_code == 200 and asked == []
    with region.engine.connect() as conn:
        assert conn.execute(select(evidence.c.id).where(evidence.c.case_no == case_no)).all() == []
        refusal = conn.execute(
            select(audit_log.c.detail).where(audit_log.c.action == "denied", audit_log.c.target == f"case:{case_no}")
        ).scalar_one()
    assert refusal == {"action": "take_evidence", "reason": "role"}


@pytest.mark.parametrize(
    "by,refused",
    [
        ("department-user", True),  # a department's dashboard user, by name
        ("center-user", False),
        ("王督查", False),  # an officer without a dashboard login: the command line is the operator's
    ],
)
def test_the_command_line_refuses_a_department_user(region, by, refused):
    from click.testing import CliRunner

    from app.cli import cli

    alarm_id = region.alarm_ids[OWN][0]
    result = CliRunner().invoke(
        cli,
        ["alarm", "ack", str(alarm_id), "--by", by, "--note", "已核实"],
        env={"SUPERVISE_VAR_DIR": str(region.settings.var_dir)},
    )
    assert (result.exit_code != 0) is refused, result.output
    assert ("for the officers above the department" in result.output) is refused
    assert (alarm_row(region, alarm_id)["acknowledged_at"] is None) is refused
