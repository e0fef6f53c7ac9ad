"""The supervision orders page (/orders): each role sees the orders of its scope only, a
department's user answers its own department's orders and nothing else, officers accept,
return and issue; every refused step is audited."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.base.calendars import CalendarBook
from app.base.exchange import exchange_engine
from app.base.tables import audit_log
from app.orders import orders
from app.orders.actors import Actor
from app.queries.reference import read_reference
from app.scope import scope_for
from tests.web.conftest import dash_call, login

OWN, OTHER = "GX-450102:MZ", "GX-450102:SC"  # the department user's department, and its neighbour
LIST = [("orders-list", "children"), ("orders-selected", "options")]
ACT = [("orders-result", "children"), ("orders-refresh", "data")]
BUTTONS = ["orders-answer", "orders-accept", "orders-return", "orders-issue"]


def issue(region, dept: str) -> dict:
    reference = read_reference(exchange_engine(region.settings.exchange_url_resolved))
    officer = Actor("center-user", scope_for("center", "GX-450102", reference))
    rules = orders.OrderRules(region.settings.zone, CalendarBook(), "桂政监督", 3)
    return orders.issue(region.engine, officer, [region.alarm_ids[dept][0]], "请整改", region.now, rules, reference)


def listing(client) -> str:
    response = dash_call(client, LIST, [("orders-refresh", "data", 0), ("orders-state", "value", "all")])
    assert response.status_code == 200
    return json.dumps(response.json, ensure_ascii=False)


def step(client, button: str, order_id, **fields):
    state = {
        "orders-selected": order_id,
        "orders-cause": fields.get("cause"),
        "orders-measures": fields.get("measures"),
        "orders-note": fields.get("note"),
        "orders-days": None,
        "orders-alarms": fields.get("alarms"),
        "orders-instructions": fields.get("instructions"),
        "orders-refresh": 0,
    }
    response = dash_call(
        client,
        ACT,
        [(b, "n_clicks", 1 if b == button else None) for b in BUTTONS],
        state=[(k, "data" if k == "orders-refresh" else "value", v) for k, v in state.items()],
        triggered=f"{button}.n_clicks",
    )
    assert response.status_code == 200
    return json.dumps(response.json, ensure_ascii=False)


def denials(region) -> list:
    with region.engine.connect() as conn:
        return conn.execute(select(audit_log.c.target, audit_log.c.detail).where(audit_log.c.action == "denied")).all()


def test_a_department_sees_and_answers_only_its_own_orders(web_app, region):
    own, other = issue(region, OWN), issue(region, OTHER)
    client = login(web_app.test_client(), region.users["department"])
    shown = listing(client)
    assert own["order_no"] in shown and other["order_no"] not in shown
    refused = step(client, "orders-answer", other["id"], cause="原因", measures="措施")
    assert "操作未执行" in refused and denials(region) == [(f"order:{other['id']}", {"action": "answer"})]
    assert "已提交" in step(client, "orders-answer", own["id"], cause="人手不足", measures="已调配")
    assert "操作未执行" in step(client, "orders-accept", own["id"], note="自己办结")  # not the department's to accept
    officer = login(web_app.test_client(), region.users["center"])
    assert own["order_no"] in listing(officer) and other["order_no"] in listing(officer)
    assert "已办结" in step(officer, "orders-accept", own["id"], note="整改到位")


def test_officers_issue_from_the_page_within_their_scope(web_app, region):
    city = login(web_app.test_client(), region.users["city"])
    outside = region.alarm_ids["GX-450202:MZ"][0]  # Liuzhou: not the Nanning city officer's
    assert "操作未执行" in step(city, "orders-issue", None, alarms=str(outside), instructions="请整改")
    inside = region.alarm_ids[OWN][0]
    assert "已发出 桂政监督〔2026〕第 0001 号" in step(
        city, "orders-issue", None, alarms=str(inside), instructions="请整改"
    )
    department = login(web_app.test_client(), region.users["department"])
    assert "操作未执行" in step(department, "orders-issue", None, alarms=str(inside), instructions="自己督办自己")


def test_the_page_shows_each_role_its_own_controls(web_app, region):
    for role, department in (("department", True), ("center", False)):
        client = login(web_app.test_client(), region.users[role])
        response = dash_call(
            client,
            [("shell-page", "children"), ("shell-root", "className")],
            [("shell-url", "pathname", "/orders"), ("shell-url", "search", "")],
        )
        page = response.json["response"]["shell-page"]["children"]
        found = {}

        def walk(node):
            if isinstance(node, dict):
                props = node.get("props", {})
                if props.get("id") in ("orders-department-actions", "orders-officer-actions"):
                    found[props["id"]] = props.get("style")
                for value in props.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(page)
        assert (found["orders-department-actions"] is None) is department
        assert (found["orders-officer-actions"] is None) is not department
