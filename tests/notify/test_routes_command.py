"""`supervise routes check|test`: a fault is one line naming its line; a test says which
receivers, which group and when, in the center's own calendar."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import create_engine, insert

from app.base import exchange
from app.cli import cli

FILE = """\
[[receivers]]
name = "city-wecom"
type = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY"

[[receivers]]
name = "responsible-sms"
type = "sms"

[route]
receiver = "responsible-sms"

[[route.routes]]
match = { center = "C03", level = "red" }
receiver = "city-wecom"
continue = true
active_time = { days = "working", hours = ["08:30-12:00", "14:30-17:30"] }
escalate_after = "2h"
"""


def env(tmp_path, **more):
    return {"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_DB_URL": f"sqlite:///{tmp_path / 's.db'}", **more}


def with_centers(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'exchange.db'}")
    exchange.create_exchange_schema(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(exchange.centers),
            [
                {"center_id": "R", "name": "自治区政务服务中心", "level": "region", "parent_id": None},
                {"center_id": "C03", "name": "某市政务服务中心", "level": "city", "parent_id": "R"},
                {"center_id": "C0301", "name": "某县政务服务中心", "level": "county", "parent_id": "C03"},
            ],
        )
    engine.dispose()


def test_check_says_ok_and_never_shows_a_secret(tmp_path):
    path = tmp_path / "routes.toml"
    path.write_text(FILE, encoding="utf-8")
    result = CliRunner().invoke(cli, ["routes", "check", str(path)], env=env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "2 routes, 2 receivers, OK" in result.output
    default = CliRunner().invoke(cli, ["routes", "check"], env=env(tmp_path))
    assert "default routes: 2 routes, 1 receivers, OK" in default.output


def test_check_refuses_a_fault_in_one_line(tmp_path):
    path = tmp_path / "routes.toml"
    path.write_text(FILE.replace('escalate_after = "2h"', 'escalate_after = "two hours"'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["routes", "check", str(path)], env=env(tmp_path))
    assert result.exit_code == 2
    assert f"{path}: line 18: route 0.0: escalate_after 'two hours' is not a duration" in result.output
    assert "Traceback" not in result.output and "SECRET-KEY" not in result.output


def test_test_names_receivers_group_and_time_across_national_day(tmp_path):
    with_centers(tmp_path)
    path = tmp_path / "routes.toml"
    path.write_text(FILE, encoding="utf-8")
    args = ["routes", "test", "--kind", "receipt_unprocessed", "--level", "red", "--center", "C0301"]
    args += ["--dept", "D07", "--at", "2026-09-30T17:50:00+08:00"]
    result = CliRunner().invoke(cli, args, env=env(tmp_path, SUPERVISE_ROUTES=str(path)))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(x["route"], x["receiver"], x["first_message_at"]) for x in lines] == [
        # a county of C03 matches the city's route, held over the holiday to the first working morning
        # (continue = true, but no later sibling matches; the root takes only what no child takes)
        ("0.0", "city-wecom", "2026-10-08T08:30:00+08:00"),
    ]
    assert lines[0]["group"] == "0.0/city-wecom/{center=C0301,department=D07,kind=receipt_unprocessed}"
    assert lines[0]["escalates_to"] == ["C03", "R"]
    # elsewhere the root takes it, with no active time: group_wait after the fire
    args[args.index("C0301")] = "C09"
    lines = [
        json.loads(line)
        for line in CliRunner().invoke(cli, args, env=env(tmp_path, SUPERVISE_ROUTES=str(path))).output.splitlines()
    ]
    assert [(x["route"], x["receiver"], x["first_message_at"]) for x in lines] == [
        ("0", "responsible-sms", "2026-09-30T17:50:30+08:00")
    ]


def test_silence_commands(tmp_path):
    args = ["silence", "add", "--match", "kind=camera_offline", "--match", "center=C03", "--for", "2h"]
    added = CliRunner().invoke(cli, [*args, "--by", "周主任", "--note", "机房断电"], env=env(tmp_path))
    assert added.exit_code == 0, added.output
    listed = [
        json.loads(x)
        for x in CliRunner().invoke(cli, ["silence", "list", "--json"], env=env(tmp_path)).output.splitlines()
    ]
    assert [(s["state"], s["matchers"]) for s in listed] == [
        ("active", {"kind": ["camera_offline"], "center": ["C03"]})
    ]
    assert (
        CliRunner()
        .invoke(cli, ["silence", "expire", str(listed[0]["id"]), "--by", "周主任"], env=env(tmp_path))
        .exit_code
        == 0
    )
    bad = CliRunner().invoke(
        cli, ["silence", "add", "--match", "colour=red", "--for", "2h", "--by", "x", "--note", "y"], env=env(tmp_path)
    )
    assert bad.exit_code == 2 and "unknown label 'colour'" in bad.output and "Traceback" not in bad.output


def test_notify_once_runs_and_refuses_a_bad_routing_file(tmp_path):
    result = CliRunner().invoke(cli, ["notify", "--once", "--now", "2026-10-09T09:00:00+08:00"], env=env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "0 changes taken" in result.output
    (tmp_path / "bad.toml").write_text('[route]\ngroup_wait = "soon"\n', encoding="utf-8")
    bad = CliRunner().invoke(cli, ["notify", "--once"], env=env(tmp_path, SUPERVISE_ROUTES=str(tmp_path / "bad.toml")))
    assert bad.exit_code == 2 and "line 2: route 0: group_wait 'soon' is not a duration" in bad.output
    assert "Traceback" not in bad.output
