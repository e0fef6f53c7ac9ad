"""Contacts: who is responsible where, added, listed masked, removed; every change audited."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.base.database import make_engine, upgrade
from app.base.tables import audit_log
from app.cli import cli
from app.notify import contacts


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'supervise.db'}"
    return request.getfixturevalue("pg_url")


def run(args, url, tmp_path, input=None):
    env = {"SUPERVISE_DB_URL": url, "SUPERVISE_VAR_DIR": str(tmp_path)}
    return CliRunner().invoke(cli, args, env=env, input=input, catch_exceptions=False)


def test_add_list_remove_masks_and_audits(db_url, tmp_path):
    added = run(
        [
            "contact",
            "add",
            "王科长",
            "--role",
            "窗口负责人",
            "--center",
            "C01",
            "--dept",
            "D01",
            "--mobile",
            "+86 138-1234-5678",
            "--email",
            "wang@example.gov.cn",
        ],
        db_url,
        tmp_path,
    )
    assert added.exit_code == 0, added.output
    contact_id = json.loads(added.output)["id"]
    # The same person and role at the same place is updated, not added twice.
    again = run(
        [
            "contact",
            "add",
            "王科长",
            "--role",
            "窗口负责人",
            "--center",
            "C01",
            "--dept",
            "D01",
            "--mobile",
            "13900001111",
        ],
        db_url,
        tmp_path,
    )
    assert json.loads(again.output)["id"] == contact_id
    run(["contact", "add", "李督查", "--role", "中心督查员", "--center", "C01"], db_url, tmp_path)

    listed = [json.loads(line) for line in run(["contact", "list", "--json"], db_url, tmp_path).output.splitlines()]
    assert [(c["name"], c["dept_id"], c["mobile"]) for c in listed] == [
        ("李督查", None, None),
        ("王科长", "D01", "139****1111"),
    ]
    assert "13900001111" not in json.dumps(listed)

    assert run(["contact", "remove", str(contact_id)], db_url, tmp_path).exit_code == 0
    assert [
        c["name"] for c in map(json.loads, run(["contact", "list", "--json"], db_url, tmp_path).output.splitlines())
    ] == ["李督查"]

    engine = make_engine(db_url)
    with engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log).order_by(audit_log.c.id))]
    assert actions == ["contact_add", "contact_add", "contact_add", "contact_remove"]
    engine.dispose()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--mobile", "12345"], "is not a mainland mobile number"),  # an SMS could never reach it
        (["--email", "not-an-address"], "is not an e-mail address"),
        (["--role", " "], "needs a role"),
    ],
)
def test_bad_contact_is_one_line(args, says, tmp_path):
    url = f"sqlite:///{tmp_path / 'supervise.db'}"
    base = ["contact", "add", "王科长", "--center", "C01"]
    if "--role" not in args:
        base += ["--role", "窗口负责人"]
    result = CliRunner().invoke(cli, base + args, env={"SUPERVISE_DB_URL": url, "SUPERVISE_VAR_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert says in result.output and "Traceback" not in result.output


def test_responsible_finds_department_and_center_people(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    from datetime import UTC, datetime

    now = datetime(2026, 10, 9, tzinfo=UTC)
    for name, role, dept in [
        ("王科长", "窗口负责人", "D01"),
        ("赵科长", "窗口负责人", "D02"),
        ("李督查", "中心督查员", ""),
    ]:
        contacts.add(engine, name=name, role=role, center_id="C01", dept_id=dept, mobile="13800000000", by="t", now=now)
    found = contacts.responsible(engine, [("C01", "D01"), ("C01", "")])
    assert sorted(c.name for c in found) == ["李督查", "王科长"]
    assert [c.name for c in contacts.responsible(engine, [("C01", "D01"), ("C01", "")], roles=["中心督查员"])] == [
        "李督查"
    ]
