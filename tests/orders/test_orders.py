"""Supervision orders end to end on a real database: issue, answer, accept, return; who may do
which; numbering; the order_overdue and not_supervised clocks fired by the ingest's hook in
event time over the 2026 National Day holiday; appeals that revoke, reject and refer."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from app.base.tables import alarm_actions, alarms, audit_log, supervision_history, supervision_orders
from app.orders import appeals, orders
from app.orders.actors import Refused, actor_of
from ingest.orders import judge_orders

from .conftest import CITY, COUNTY, CST, REFERENCE, REGION, RULES, actor, add_alarm, local


def issue(db, alarm_ids, by="county", at="2026-09-30 10:00", **kw):
    return orders.issue(db, actor(by), alarm_ids, "请说明超期原因并整改", local(at), RULES, REFERENCE, **kw)


def judge(db, at):
    return judge_orders(db, RULES.calendars, CST, local(at), 5)


def alarm_rows(db, kind):
    with db.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(alarms).where(alarms.c.kind == kind).order_by(alarms.c.id)).mappings()
        ]


def test_issue_numbers_and_deadline(db):
    a1, a2 = add_alarm(db), add_alarm(db, subject="s2", kind="step_overdue")
    first = issue(db, [a1, a2])
    second = issue(db, [add_alarm(db, case_no="C2")], by="city")
    assert first["order_no"] == "桂政监督〔2026〕第 0001 号" and second["order_no"] == "桂政监督〔2026〕第 0002 号"
    # 3 working days from Wednesday 09-30: National Day is off, make-up Saturday 10-10 counts
    assert first["feedback_due"] == date(2026, 10, 10)
    assert (first["state"], first["round"], first["escalated_to"]) == ("awaiting", 1, CITY)
    with db.connect() as conn:
        actions = conn.execute(select(alarm_actions.c.alarm_id, alarm_actions.c.action, alarm_actions.c.note)).all()
        audited = conn.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert sorted(actions)[:2] == [(a1, "order", first["order_no"]), (a2, "order", first["order_no"])]
    assert ("order_issued", f"order:{first['id']}") in audited


def test_who_may_do_what(db):
    a = add_alarm(db)
    with pytest.raises(Refused, match="issued by the officers"):
        issue(db, [a], by="d1")
    with pytest.raises(Refused, match="scope"):  # a county center's officer does not reach the city's departments
        issue(db, [add_alarm(db, case_no="C9", dept="D3", center=CITY)], by="county")
    order = issue(db, [a])
    with pytest.raises(Refused, match="already under order"):
        issue(db, [a], by="city")
    with pytest.raises(Refused, match="no order"):  # another department cannot even see it
        orders.answer(db, actor("d2"), order["id"], "原因", "措施", local("2026-10-08 09:00"))
    with pytest.raises(Refused, match="own department"):
        orders.answer(db, actor("county"), order["id"], "原因", "措施", local("2026-10-08 09:00"))
    with pytest.raises(Refused, match="only answered"):
        orders.accept(db, actor("county"), order["id"], "好", local("2026-10-08 09:00"))
    assert orders.orders_in(db, actor("d2").scope) == []
    assert [o["id"] for o in orders.orders_in(db, actor("d1").scope, "open")] == [order["id"]]
    assert orders.order_view(db, actor("d2").scope, order["id"]) is None
    answered = orders.answer(db, actor("d1"), order["id"], "人手不足", "已调配人员", local("2026-10-08 09:00"))
    with pytest.raises(Refused, match="officer"):
        orders.accept(db, actor("d1"), order["id"], "自己办结", local("2026-10-08 10:00"))
    assert answered["state"] == "answered"
    with pytest.raises(Refused, match="at most"):
        orders.answer(db, actor("d1"), order["id"], "x" * 5000, "y", local("2026-10-08 09:00"))


def test_answer_return_accept_with_history(db):
    order = issue(db, [add_alarm(db)])
    orders.answer(db, actor("d1"), order["id"], "人手不足", "已调配人员", local("2026-10-08 09:00"))
    returned = orders.return_order(db, actor("city"), order["id"], "措施不具体", local("2026-10-09 10:00"), RULES, 1)
    assert (returned["state"], returned["round"], returned["feedback_due"]) == ("awaiting", 2, date(2026, 10, 10))
    orders.answer(db, actor("d1"), order["id"], "人手不足", "增开两个窗口", local("2026-10-10 11:00"))
    done = orders.accept(db, actor("county"), order["id"], "整改到位", local("2026-10-12 09:00"))
    assert (done["state"], done["accepted_by"]) == ("accepted", "county")
    view = orders.order_view(db, actor("d1").scope, order["id"])
    assert [h["action"] for h in view["history"]] == ["issued", "answered", "returned", "answered", "accepted"]
    assert view["history"][2]["detail"] == {"round": 2, "reason": "措施不具体", "due": "2026-10-10"}
    with db.connect() as conn:  # history is evidence: the database refuses to edit it
        with pytest.raises(Exception, match="append-only"):
            conn.execute(update(supervision_history).values(actor="someone else"))


def test_order_overdue_fires_in_event_time_and_ends_with_a_late_answer(db):
    order = issue(db, [add_alarm(db)])
    assert judge(db, "2026-10-10 23:59") == []  # the due day itself is in time
    with db.connect() as conn:
        assert conn.execute(select(supervision_orders.c.next_change)).scalar() == local("2026-10-11 00:00")
    # judged days later, with no new event: it fired at 00:00 after the due date
    fired = judge(db, "2026-10-13 08:00")
    assert [(m.kind, m.action) for m in fired if m.kind == "order_overdue"] == [("order_overdue", "fired")]
    [overdue] = alarm_rows(db, "order_overdue")
    assert (overdue["fired_at"], overdue["due"], overdue["dept_id"], overdue["subject"]) == (
        local("2026-10-11 00:00"),
        date(2026, 10, 10),
        "D1",
        f"order:{order['id']}/1",
    )
    assert judge(db, "2026-10-13 09:00") == []  # judged once: the index is empty
    orders.answer(db, actor("d1"), order["id"], "原因", "措施", local("2026-10-13 10:00"))
    judge(db, "2026-10-13 10:01")
    [overdue] = alarm_rows(db, "order_overdue")
    assert (overdue["state"], overdue["closed_reason"], overdue["closed_at"]) == (
        "closed",
        "resolved",
        local("2026-10-13 10:00"),
    )


def test_not_supervised_fires_without_an_order_and_not_with_one(db):
    lying = add_alarm(db, case_no="C1", fired="2026-09-28 00:00")
    ordered = add_alarm(db, case_no="C2", fired="2026-09-28 00:00")
    add_alarm(db, case_no="C3", level="warning", kind="promise_warning")  # a yellow one is not watched
    judge(db, "2026-09-29 00:00")
    issue(db, [ordered], at="2026-10-09 10:00")
    judge(db, "2026-10-10 23:59")
    assert alarm_rows(db, "not_supervised") == []
    judge(db, "2026-10-12 08:00")  # 5 working days from Monday 09-28: due 10-10 (make-up Saturday)
    [late] = alarm_rows(db, "not_supervised")
    assert (late["subject"], late["fired_at"], late["center_id"], late["state"]) == (
        f"alarm:{lying}",
        local("2026-10-11 00:00"),
        COUNTY,
        "open",
    )
    issue(db, [lying], by="city", at="2026-10-12 09:00")  # the next level steps in
    judge(db, "2026-10-12 09:01")
    [late] = alarm_rows(db, "not_supervised")
    assert (late["state"], late["closed_reason"], late["closed_at"]) == (
        "closed",
        "resolved",
        local("2026-10-12 09:00"),
    )


def test_appeal_revoked_closes_the_alarm_as_revoked(db):
    a = add_alarm(db)
    with pytest.raises(Refused, match="department's own users"):
        appeals.file(db, actor("county"), a, "数据错误", "", local("2026-02-13 16:00"), RULES)
    with pytest.raises(Refused, match="no alarm"):
        appeals.file(db, actor("d2"), a, "数据错误", "", local("2026-02-13 16:00"), RULES)
    appeal = appeals.file(
        db, actor("d1"), a, "申请人主动撤回，系统未同步", "撤回申请书 编号 17", local("2026-02-13 16:00"), RULES
    )
    assert appeal["decide_by"] == date(2026, 2, 27)  # Spring Festival off, make-up Saturday 02-14 counts
    with pytest.raises(Refused, match="awaiting its decision"):
        appeals.file(db, actor("d1"), a, "再次申诉", "", local("2026-02-14 16:00"), RULES)
    with pytest.raises(Refused, match="officers above"):
        appeals.decide(db, actor("d1"), appeal["id"], "revoke", "自己撤销", local("2026-02-24"), RULES, REFERENCE)
    done = appeals.decide(
        db, actor("county"), appeal["id"], "revoke", "属实", local("2026-02-24 10:00"), RULES, REFERENCE
    )
    assert done["state"] == "revoked"
    [row] = [r for r in alarm_rows(db, "promise_overdue") if r["id"] == a]
    assert (row["state"], row["closed_reason"]) == ("closed", "revoked")
    # the ingest's reconcile leaves a revoked alarm alone, and its not_supervised never fires
    judge(db, "2026-12-01 00:00")
    assert alarm_rows(db, "not_supervised") == []


def test_appeal_referred_up_then_rejected(db):
    a = add_alarm(db)
    appeal = appeals.file(db, actor("d1"), a, "理由", "", local("2026-11-02 10:00"), RULES)
    up = appeals.decide(
        db, actor("county"), appeal["id"], "refer", "请市中心裁定", local("2026-11-03 10:00"), RULES, REFERENCE
    )
    assert (up["state"], up["at_center"], up["decide_by"]) == ("referred", CITY, date(2026, 11, 10))
    with pytest.raises(Refused, match="its officers decide"):  # the county may no longer decide it
        appeals.decide(db, actor("county"), appeal["id"], "revoke", "撤销", local("2026-11-04"), RULES, REFERENCE)
    done = appeals.decide(
        db, actor("city"), appeal["id"], "reject", "理由不成立", local("2026-11-04 10:00"), RULES, REFERENCE
    )
    assert done["state"] == "rejected"
    assert [r["state"] for r in alarm_rows(db, "promise_overdue")] == ["open"]
    view = appeals.appeal_view(db, actor("d1").scope, appeal["id"])
    assert [h["action"] for h in view["history"]] == ["filed", "refer", "reject"]
    with pytest.raises(Refused, match="already decided"):
        appeals.decide(db, actor("region"), appeal["id"], "revoke", "x", local("2026-11-05"), RULES, REFERENCE)
    assert appeals.appeal_view(db, actor("d2").scope, appeal["id"]) is None
    assert REGION in REFERENCE.centers


def test_actor_is_an_active_user(db):
    assert actor_of(db, REFERENCE, "d1").scope.dept == "D1"
    with pytest.raises(Refused, match="no active user"):
        actor_of(db, REFERENCE, "nobody")
    with db.begin() as conn:
        conn.execute(text("UPDATE users SET active = false WHERE name = 'd1'"))
    with pytest.raises(Refused, match="no active user"):
        actor_of(db, REFERENCE, "d1")


def test_cli_refuses_in_one_line(tmp_path, monkeypatch):
    from app.cli import cli

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["order", "issue", "1", "--by", "x", "--instructions", "y"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_printable_order_with_its_history(db):
    from app.orders.printout import order_pdf

    order = issue(db, [add_alarm(db)])
    orders.answer(db, actor("d1"), order["id"], "人手不足", "已调配人员", local("2026-10-08 09:00"))
    pdf = order_pdf(db, actor("d1").scope, REFERENCE, order["id"], CST)
    assert pdf.startswith(b"%PDF") and b"FontFile2" in pdf  # the CJK font is embedded
    assert order_pdf(db, actor("d2").scope, REFERENCE, order["id"], CST) is None
