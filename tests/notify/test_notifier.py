"""The notifier end to end, on the real PostgreSQL and Redis: alarm changes written to the
outbox, relayed onto the stream, taken into groups, sent to real local servers. One message
per group, never twice, held outside active times, escalated by level."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.base import outbox as alarm_outbox
from app.base.alarm_stream import AlarmChange
from app.base.database import make_engine, upgrade
from app.base.messaging import connect_url
from app.base.tables import alarm_actions, notifications
from app.notify import contacts
from app.notify.notifier import Notifier
from app.notify.places import CenterTree
from app.notify.receivers import Sender
from app.sms.gateway import FileGateway
from rules.calendar import WorkCalendar
from rules.routing import parse_routes

from .servers import start_robot, start_smtp

CST = ZoneInfo("Asia/Shanghai")
TREE = CenterTree(
    parent={"C0301": "C03", "C03": "R", "R": None},
    names={"C0301": "青山县政务服务中心", "C03": "青州市政务服务中心", "R": "自治区政务服务中心"},
    dept_names={"D07": "不动产登记局"},
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.fixture
def world(pg_url, redis_url, tmp_path):
    engine = make_engine(pg_url)
    upgrade(engine)
    redis = connect_url(redis_url)
    now = at("2026-10-09 08:00")
    for name, role, center, dept, mobile in [
        ("王科长", "窗口负责人", "C0301", "D07", "13800000001"),
        ("李督查", "中心督查员", "C0301", "", "13800000002"),
        ("张处长", "中心督查员", "C03", "", "13800000003"),
    ]:
        contacts.add(
            engine,
            name=name,
            role=role,
            center_id=center,
            dept_id=dept,
            mobile=mobile,
            email=f"{mobile}@example.gov.cn",
            by="test",
            now=now,
        )
    yield engine, redis, tmp_path
    redis.close()
    engine.dispose()


def notifier(engine, redis, routes_text: str, gateway=None) -> Notifier:
    return Notifier(engine, redis, parse_routes(routes_text), TREE, lambda _c: WorkCalendar(), CST, Sender(gateway))


def fire(engine, redis, changes: list[AlarmChange]) -> None:
    with engine.begin() as conn:
        alarm_outbox.write(conn, changes)
    alarm_outbox.Relay(engine, redis).drain()


def change(
    alarm_id, fired_at, *, action="fired", level="alarm", kind="receipt_unprocessed", case_no=None, state="open"
):
    return AlarmChange(
        alarm_id=alarm_id,
        action=action,
        actor="system",
        kind=kind,
        level=level,
        state=state,
        case_no=case_no or f"2026100900{alarm_id:03d}",
        center_id="C0301",
        dept_id="D07",
        fired_at=fired_at,
        at=fired_at,
    )


SMS_ROUTES = """
[[receivers]]
name = "responsible-sms"
type = "sms"

[route]
group_wait = "30s"

[[route.routes]]
match = { level = ["alarm", "warning"] }
receiver = "responsible-sms"
active_time = { days = "working", hours = ["08:30-12:00", "14:30-17:30"] }
escalate_after = "4h"
"""


def sent(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(notifications).order_by(notifications.c.id)).mappings()]


def test_a_morning_of_alarms_is_one_sms_per_person_never_twice(world):
    engine, redis, tmp_path = world
    gateway = FileGateway(tmp_path / "sms.jsonl")
    first = notifier(engine, redis, SMS_ROUTES, gateway)
    first.run_once(at("2026-10-09 08:59"))  # starts following at the stream's end
    t0 = at("2026-10-09 09:00")
    fire(engine, redis, [change(i, t0 - timedelta(minutes=i)) for i in range(1, 31)])
    # the case of alarm 1 also has a yellow alarm: the red one inhibits it
    fire(engine, redis, [change(100, t0, level="warning", kind="promise_warning", case_no="2026100900001")])

    assert first.run_once(t0).flushed.messages == 0  # group_wait: not yet
    result = first.run_once(t0 + timedelta(seconds=30))
    assert result.flushed.messages == 2 and result.sent == 2  # 王科长 (department) and 李督查 (center)

    # A second notifier, and a restart of the first, find nothing more to send.
    second = notifier(engine, redis, SMS_ROUTES, gateway)
    assert second.run_once(t0 + timedelta(seconds=31)).sent == 0
    assert first.run_once(t0 + timedelta(seconds=32)).sent == 0

    lines = gateway.lines()
    assert sorted(line["phone"] for line in lines) == ["13800000001", "13800000002"]
    text = lines[0]["text"]
    assert len(text) <= 70  # one SMS segment
    assert text.startswith("【效能监察】青山县政务服务中心不动产登记局红牌告警30件：收件逾期未处理30件")
    assert "2026100900030" in text  # the oldest case first
    rows = sent(engine)
    assert [r["recipient"] for r in rows] == ["王科长 138****0001", "李督查 138****0002"]
    assert 100 not in rows[0]["alarm_ids"] and len(rows[0]["alarm_ids"]) == 30


def test_held_over_national_day_until_the_first_working_morning(world):
    engine, redis, tmp_path = world
    gateway = FileGateway(tmp_path / "sms.jsonl")
    n = notifier(engine, redis, SMS_ROUTES, gateway)
    n.run_once(at("2026-09-30 17:00"))
    fire(engine, redis, [change(1, at("2026-09-30 17:20"))])
    for instant in ("2026-09-30 17:21", "2026-10-01 09:00", "2026-10-07 16:00", "2026-10-08 08:29"):
        assert n.run_once(at(instant)).sent == 0, instant  # held, never dropped
    assert n.run_once(at("2026-10-08 08:30")).sent == 2


def test_escalation_climbs_to_the_city_and_is_on_the_alarms_trail(world):
    engine, redis, tmp_path = world
    gateway = FileGateway(tmp_path / "sms.jsonl")
    n = notifier(engine, redis, SMS_ROUTES, gateway)
    n.run_once(at("2026-10-09 08:59"))
    t0 = at("2026-10-09 09:00")
    fire(engine, redis, [change(1, t0), change(2, t0)])
    n.run_once(t0 + timedelta(minutes=1))
    fire(engine, redis, [change(2, t0, action="ack")])  # acknowledged: it does not climb
    # 13:00, four hours on, is the lunch break: the climb waits for the afternoon's active time
    assert n.run_once(t0 + timedelta(hours=4)).flushed.escalations == 0
    result = n.run_once(at("2026-10-09 14:30"))
    assert result.flushed.escalations == 1
    up = [line for line in gateway.lines() if line["phone"] == "13800000003"]
    assert (
        len(up) == 1
        and "青州市政务服务中心红牌告警1件（青山县政务服务中心不动产登记局逾时未确认，上报）" in up[0]["text"]
    )
    with engine.connect() as conn:
        trail = conn.execute(select(alarm_actions.c.alarm_id, alarm_actions.c.action)).all()
    assert trail == [(1, "notified_up")]
    assert n.run_once(at("2026-10-09 14:31")).flushed.escalations == 0


ROBOTS = """
[[receivers]]
name = "county-wecom"
type = "wecom"
url = "{wecom}/cgi-bin/webhook/send?key=WECOM-KEY"
msgtype = "text"
to = ["department"]

[[receivers]]
name = "city-dingtalk"
type = "dingtalk"
url = "{dingtalk}/robot/send?access_token=DING-TOKEN"
secret = "SEC-DING-SECRET"
to = ["center"]

[[receivers]]
name = "hook"
type = "webhook"
url = "{hook}/alerts"

[route]
receivers = ["county-wecom", "city-dingtalk", "hook"]
group_wait = "0s"
"""


def test_robots_get_their_wire_format_and_signature(world, caplog):
    engine, redis, _ = world
    wecom, dingtalk, hook = start_robot(), start_robot(), start_robot()
    try:
        text = ROBOTS.format(wecom=wecom.url, dingtalk=dingtalk.url, hook=hook.url)
        n = notifier(engine, redis, text)
        n.sender.clock_ms = lambda: 1_790_000_000_000
        n.run_once(at("2026-10-09 08:59"))
        t0 = at("2026-10-09 09:00")
        fire(engine, redis, [change(1, t0), change(2, t0)])
        # DingTalk says "too fast" once: only DingTalk waits
        dingtalk.replies.put((200, {"errcode": 130101, "errmsg": "send too fast"}, 0))
        result = n.run_once(t0)
        assert (result.sent, result.retrying) == (2, 1)

        (w,) = wecom.requests
        assert w.path == "/cgi-bin/webhook/send" and w.query == {"key": "WECOM-KEY"}
        body = w.json()
        assert body["msgtype"] == "text" and body["text"]["mentioned_mobile_list"] == ["13800000001"]

        (h,) = hook.requests
        v4 = h.json()
        assert v4["version"] == "4" and v4["status"] == "firing" and v4["receiver"] == "hook"
        assert [a["labels"]["case_no"] for a in v4["alerts"]] == ["2026100900001", "2026100900002"]
        assert v4["alerts"][0]["startsAt"] == "2026-10-09T01:00:00Z" and h.headers["Idempotency-Key"].startswith(
            "notify-"
        )

        assert n.run_once(t0 + timedelta(seconds=59)).sent == 0  # backing off
        assert n.run_once(t0 + timedelta(seconds=61)).sent == 1
        first, second = dingtalk.requests
        assert second.query["timestamp"] == "1790000000000"
        expected = base64.b64encode(
            hmac.new(b"SEC-DING-SECRET", b"1790000000000\nSEC-DING-SECRET", hashlib.sha256).digest()
        ).decode()
        assert second.query["sign"] == expected  # parse_qsl undid the URL-encoding
        d = second.json()
        assert d["msgtype"] == "markdown" and d["at"] == {"atMobiles": ["13800000002"], "isAtAll": False}
        assert "收件逾期未处理" in d["markdown"]["text"]
        logged = caplog.text + json.dumps([r["last_error"] for r in sent(engine)], ensure_ascii=False)
        assert "SEC-DING-SECRET" not in logged and "WECOM-KEY" not in logged and "DING-TOKEN" not in logged
    finally:
        for robot in (wecom, dingtalk, hook):
            robot.close()


def test_a_hanging_receiver_delays_only_itself(world):
    engine, redis, _ = world
    wecom, dingtalk, hook = start_robot(), start_robot(), start_robot()
    try:
        text = ROBOTS.format(wecom=wecom.url, dingtalk=dingtalk.url, hook=hook.url).replace(
            'url = "' + hook.url + '/alerts"', 'url = "' + hook.url + '/alerts"\ntimeout = 1'
        )
        n = notifier(engine, redis, text)
        n.run_once(at("2026-10-09 08:59"))
        t0 = at("2026-10-09 09:00")
        fire(engine, redis, [change(1, t0)])
        hook.replies.put((200, {}, 3))  # hangs past its timeout
        wecom.replies.put((500, {"errmsg": "busy"}, 0))  # fails
        result = n.run_once(t0)
        assert (result.sent, result.retrying) == (1, 2)  # DingTalk went out all the same
        states = {r["receiver"]: (r["state"], r["last_error"]) for r in sent(engine)}
        assert states["city-dingtalk"][0] == "sent"
        assert "timed out" in states["hook"][1] and "HTTP 500" in states["county-wecom"][1]
    finally:
        for robot in (wecom, dingtalk, hook):
            robot.close()


def test_wecom_rate_limit_twenty_a_minute(world):
    engine, redis, _ = world
    wecom = start_robot()
    try:
        routes = f"""
[[receivers]]
name = "w"
type = "wecom"
url = "{wecom.url}/send?key=K"
to = ["department"]

[route]
receiver = "w"
group_wait = "0s"
group_by = ["kind"]
"""
        n = notifier(engine, redis, routes)
        n.run_once(at("2026-10-09 08:59"))
        t0 = at("2026-10-09 09:00")
        fire(engine, redis, [change(i, t0, kind=f"kind_{i}") for i in range(25)])  # 25 groups
        first = n.run_once(t0)
        assert (first.sent, first.deferred) == (20, 5)
        assert n.run_once(t0 + timedelta(seconds=15)).sent == 5
    finally:
        wecom.close()


def test_email_over_starttls_with_login(world):
    engine, redis, tmp_path = world
    controller, mailbox, cert = start_smtp(tmp_path, "notifier", "SMTP-PASSWORD")
    try:
        routes = f"""
[[receivers]]
name = "mail"
type = "email"
host = "127.0.0.1"
port = {controller.port}
username = "notifier"
password = "SMTP-PASSWORD"
sender = "supervise@example.gov.cn"
cafile = "{cert}"
to = ["department"]

[route]
receiver = "mail"
group_wait = "0s"
"""
        n = notifier(engine, redis, routes)
        n.run_once(at("2026-10-09 08:59"))
        t0 = at("2026-10-09 09:00")
        fire(engine, redis, [change(1, t0)])
        assert n.run_once(t0).sent == 1
        ((rcpt, mail),) = mailbox.messages
        assert rcpt == ["13800000001@example.gov.cn"] and mailbox.logins == ["notifier"]
        assert mail["Subject"].startswith("【效能监察】青山县政务服务中心不动产登记局红牌告警1件")
        plain = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert "2026100900001" in plain and "<td>2026100900001</td>" in html
        assert sent(engine)[0]["recipient"] == "王科长 1***@example.gov.cn"
    finally:
        controller.stop()


def test_a_silence_mutes_its_alarms_until_it_expires(world):
    from app.base.tables import audit_log
    from app.notify import silences

    engine, redis, tmp_path = world
    gateway = FileGateway(tmp_path / "sms.jsonl")
    n = notifier(engine, redis, SMS_ROUTES, gateway)
    n.run_once(at("2026-10-09 08:59"))
    t0 = at("2026-10-09 09:00")
    silence = silences.add(
        engine, {"center": ["C03"]}, t0, t0 + timedelta(hours=1), by="周主任", note="系统割接", now=t0
    )  # a city's silence mutes its counties
    fire(engine, redis, [change(1, t0)])
    assert n.run_once(t0 + timedelta(minutes=5)).sent == 0
    assert [s["state"] for s in silences.listing(engine, t0 + timedelta(minutes=5))] == ["active"]
    # it expires by itself: the alarm still firing is sent then
    assert n.run_once(t0 + timedelta(hours=1)).sent == 2
    assert not silences.expire(engine, silence, by="周主任", now=t0 + timedelta(hours=2))  # already over
    with engine.connect() as conn:
        assert conn.execute(select(audit_log.c.action).where(audit_log.c.actor == "周主任")).scalars().all() == [
            "silence_add"
        ]
