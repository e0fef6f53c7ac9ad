"""One alarm_json: the command line and the web API print the same fields, with the same values,
for the same alarm (app/base/alarm_json.py)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.base.alarm_json import ALARM_FIELDS
from tests.web.conftest import login


def test_the_command_line_and_the_api_print_the_same_alarm(region, web_app, monkeypatch):
    from app.cli import cli

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(region.settings.var_dir))
    alarm_id = next(iter(region.alarm_ids.values()))[0]
    acted = CliRunner().invoke(cli, ["alarm", "ack", str(alarm_id), "--by", "张科长", "--note", "收到"])
    assert acted.exit_code == 0, acted.output
    acknowledged = json.loads(acted.stdout.splitlines()[0])
    listed = CliRunner().invoke(cli, ["alarms", "--json", "--state", "all"])
    assert listed.exit_code == 0, listed.output
    from_cli = {row["id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    client = login(web_app.test_client(), region.users["region"])
    from_api = {row["id"]: row for row in client.get("/api/alarms?state=all").json}

    assert from_cli.keys() == from_api.keys() and from_cli
    for alarm, row in from_cli.items():
        assert set(row) == set(from_api[alarm]) == set(ALARM_FIELDS)  # the API sorts its keys
        assert row == from_api[alarm]
    assert acknowledged == from_cli[alarm_id] and acknowledged["acknowledged_at"] is not None
    case_no = from_cli[alarm_id]["case_no"]
    in_case = client.get(f"/api/cases/{case_no}").json["alarms"]
    assert in_case == [row for row in from_cli.values() if row["case_no"] == case_no]
