"""Fixtures of the web tests: a small region (2 cities, 3 counties, 2 departments
each) in an exchange database, cases and alarms in the supervision database, users
of every role, and an app built at a fixed instant.

The region is written straight into the tables the ingest fills, so these tests
depend only on the table contract, not on the ingest's progress.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from app.base.database import open_database
from app.base.settings import Settings
from app.base.tables import alarm_actions, alarms, cases, events, evidence, ratings

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Friday
PASSWORD = "correct horse 1"

CENTERS = [
    ("GX-450000", "广西壮族自治区政务服务中心", "region", None),
    ("GX-450100", "南宁市政务服务中心", "city", "GX-450000"),
    ("GX-450102", "兴宁区政务服务中心", "county", "GX-450100"),
    ("GX-450103", "青秀区政务服务中心", "county", "GX-450100"),
    ("GX-450200", "柳州市政务服务中心", "city", "GX-450000"),
    ("GX-450202", "城中区政务服务中心", "county", "GX-450200"),
]
DEPTS = [("MZ", "民政局"), ("SC", "市场监管局")]


@dataclass
class Region:
    settings: Settings
    engine: object
    now: datetime
    case_nos: dict = field(default_factory=dict)  # dept_id -> [case_no]
    alarm_ids: dict = field(default_factory=dict)  # dept_id -> [alarm ids]
    users: dict = field(default_factory=dict)  # role name -> user name
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add_alarm(
        self,
        dept_id: str,
        kind: str = "promise_overdue",
        level: str = "alarm",
        case_no: str | None = None,
        fired_at: datetime | None = None,
        subject: str = "",
    ) -> int:
        center_id = dept_id.split(":")[0]
        case_no = case_no or self.case_nos[dept_id][0]
        with self.engine.begin() as conn:
            alarm_id = conn.execute(
                insert(alarms)
                .values(
                    kind=kind,
                    level=level,
                    case_no=case_no,
                    subject=subject or f"s{next(self._ids)}",
                    center_id=center_id,
                    dept_id=dept_id,
                    window_id=f"{dept_id}:W1",
                    staff_id=f"{dept_id}:S1",
                    fired_at=fired_at or self.now,
                    due=date(2026, 11, 26),
                    state="open",
                    updated_at=fired_at or self.now,
                )
                .returning(alarms.c.id)
            ).scalar_one()
            conn.execute(
                insert(alarm_actions).values(
                    alarm_id=alarm_id, action="fired", actor="system", note="", at=fired_at or self.now
                )
            )
        self.alarm_ids.setdefault(dept_id, []).append(alarm_id)
        return alarm_id


def dept_id(center_id: str, code: str) -> str:
    return f"{center_id}:{code}"


def build_exchange(url: str) -> None:
    from app.base import exchange as x
    from app.base.exchange import create_exchange_schema, exchange_engine

    engine = exchange_engine(url)
    create_exchange_schema(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(x.centers),
            [dict(center_id=c, name=n, level=lv, parent_id=p, area_code=c[3:]) for c, n, lv, p in CENTERS],
        )
        for center_id, *_ in CENTERS:
            for code, name in DEPTS:
                d = dept_id(center_id, code)
                conn.execute(insert(x.departments).values(dept_id=d, center_id=center_id, name=name))
                conn.execute(
                    insert(x.windows).values(window_id=f"{d}:W1", center_id=center_id, dept_id=d, label=f"{code}01")
                )
                conn.execute(
                    insert(x.cameras).values(
                        camera_id=f"{d}:CAM",
                        window_id=f"{d}:W1",
                        url="rtsp://admin:secret@127.0.0.1:9/stream",
                        enabled=True,
                    )
                )
                conn.execute(
                    insert(x.staff).values(staff_id=f"{d}:S1", name=f"{name}窗口员", dept_id=d, window_id=f"{d}:W1")
                )
                conn.execute(
                    insert(x.items).values(
                        item_code=f"ITEM-{d}", name=f"{name}许可事项", dept_id=d, promised_days=5, statutory_days=20
                    )
                )


def add_case(
    region: Region, d: str, number: int, completed: bool, case_no: str | None = None, payloads: dict | None = None
) -> str:
    """A case of department `d`; `payloads` (event kind -> extra payload fields) adds upstream text to its events."""
    center_id = d.split(":")[0]
    case_no = case_no or f"{center_id[3:]}{d[-2:]}{number:04d}"
    received = region.now - timedelta(days=10 + number)
    start = received.date()
    clocks = [
        {
            "name": "receipt",
            "start": start.isoformat(),
            "due": (start + timedelta(days=7)).isoformat(),
            "stopped_at": (received + timedelta(days=1)).isoformat(),
            "dept_id": d,
            "unit": "working",
            "limit_days": 5,
            "extension_days": 0,
            "paused_days": 0,
            "overdue_at": None,
        },
        {
            "name": "promise",
            "start": start.isoformat(),
            "due": date(2026, 11, 26).isoformat(),
            "stopped_at": (region.now - timedelta(days=1)).isoformat() if completed else None,
            "dept_id": d,
            "unit": "working",
            "limit_days": 5,
            "extension_days": 0,
            "paused_days": 2,
            "overdue_at": None if completed else "2026-11-26T16:00:00+00:00",
        },
        {
            "name": "statutory",
            "start": start.isoformat(),
            "due": date(2026, 12, 18).isoformat(),
            "stopped_at": None,
            "dept_id": d,
            "unit": "working",
            "limit_days": 20,
            "extension_days": 0,
            "paused_days": 2,
            "overdue_at": None,
        },
        {
            "name": "step:S1",
            "start": (start + timedelta(days=1)).isoformat(),
            "due": date(2026, 11, 24).isoformat(),
            "stopped_at": (received + timedelta(days=3)).isoformat(),
            "dept_id": d,
            "unit": "working",
            "limit_days": 3,
            "extension_days": 0,
            "paused_days": 0,
            "overdue_at": None,
        },
    ]
    ev = [
        ("received", received, {"applicant_phone": f"1380000{number:04d}", "channel": "window"}),
        ("accepted", received + timedelta(hours=20), {}),
        ("step_started", received + timedelta(days=1), {"step_id": "S1", "name": "初审", "limit_days": 3}),
        ("step_started", received + timedelta(days=1, hours=1), {"step_id": "S2", "name": "现场核查", "limit_days": 3}),
        ("step_completed", received + timedelta(days=3), {"step_id": "S1"}),
        ("special_started", received + timedelta(days=4), {"special_id": "P1", "type": "听证", "limit_days": 5}),
        ("special_ended", received + timedelta(days=6), {"special_id": "P1"}),
        ("step_completed", received + timedelta(days=7), {"step_id": "S2"}),
    ]
    if completed:
        ev.append(("completed", region.now - timedelta(days=1), {"result": "approved"}))
    ev = [(kind, at, {**payload, **(payloads or {}).get(kind, {})}) for kind, at, payload in ev]
    with region.engine.begin() as conn:
        conn.execute(
            insert(cases).values(
                case_no=case_no,
                item_code=f"ITEM-{d}",
                center_id=center_id,
                dept_id=d,
                window_id=f"{d}:W1",
                staff_id=f"{d}:S1",
                applicant_phone=f"1380000{number:04d}",
                status="completed" if completed else "accepted",
                received_at=received,
                start_date=start,
                deemed_accepted=False,
                promise_due=date(2026, 11, 26),
                statutory_due=date(2026, 12, 18),
                paused_days=2,
                extension_days=0,
                completed_at=region.now - timedelta(days=1) if completed else None,
                result="approved" if completed else None,
                on_time=d.endswith("MZ") if completed else None,
                early=d.endswith("MZ") if completed else None,
                used_days=(4 if d.endswith("MZ") else 7) if completed else None,
                promised_days=5,
                corrections=number % 2,
                next_change=None,
                clocks=clocks,
                judged_at=region.now - timedelta(minutes=1),
            )
        )
        for kind, at, payload in ev:
            event_id = next(region._ids) + 10_000
            conn.execute(
                insert(events).values(
                    event_id=event_id,
                    case_no=case_no,
                    kind=kind,
                    occurred_at=at,
                    recorded_at=at,
                    center_id=center_id,
                    dept_id=d,
                    window_id=f"{d}:W1",
                    staff_id=f"{d}:S1",
                    item_code=f"ITEM-{d}" if kind == "received" else None,
                    payload=payload,
                    dup_key=f"{case_no}:{event_id}",
                    held=False,
                )
            )
        conn.execute(
            insert(ratings).values(
                source="onsite",
                source_id=f"r-{case_no}",
                case_no=case_no,
                center_id=center_id,
                dept_id=d,
                window_id=f"{d}:W1",
                staff_id=f"{d}:S1",
                score=100 if number % 3 else 60,
                rated_at=region.now - timedelta(days=1),
            )
        )
    region.case_nos.setdefault(d, []).append(case_no)
    return case_no


def add_evidence(region: Region, d: str, case_no: str) -> None:
    from PIL import Image  # pillow comes with reportlab

    folder = region.settings.var_dir / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case_no}.jpg"
    Image.new("RGB", (320, 180), (40, 90, 140)).save(path, "JPEG")
    with region.engine.begin() as conn:
        conn.execute(
            insert(evidence).values(
                camera_id=f"{d}:CAM",
                window_id=f"{d}:W1",
                case_no=case_no,
                captured_at=region.now - timedelta(hours=1),
                path=f"evidence/{case_no}.jpg",
                frames=[],
                requested_by="system",
            )
        )


def make_region(settings: Settings, now: datetime = NOW) -> Region:
    from app.users import add_user

    build_exchange(settings.exchange_url_resolved)
    engine = open_database(settings)
    region = Region(settings, engine, now)
    for center_id, *_ in CENTERS:
        for code, _ in DEPTS:
            d = dept_id(center_id, code)
            for number in range(1, 4):
                add_case(region, d, number, completed=number == 3)
            add_evidence(region, d, region.case_nos[d][0])
            region.add_alarm(d, "promise_overdue", "alarm", fired_at=now - timedelta(hours=2))
            region.add_alarm(
                d, "promise_warning", "warning", case_no=region.case_nos[d][1], fired_at=now - timedelta(minutes=5)
            )
    for role, scope_id in (
        ("region", "GX-450000"),
        ("city", "GX-450100"),
        ("center", "GX-450102"),
        ("department", "GX-450102:MZ"),
    ):
        add_user(engine, role + "-user", PASSWORD, role, scope_id, now)
        region.users[role] = role + "-user"
    return region


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    (tmp_path / "var").mkdir()
    return Settings(var_dir=tmp_path / "var")


@pytest.fixture
def region(web_settings) -> Region:
    return make_region(web_settings)


@pytest.fixture
def web_app(region):
    from app.web import create_app

    return create_app(region.settings, lambda: region.now, engine=region.engine, background=False)


def form_token(client, path: str = "/login") -> str:
    """The CSRF token of the form on `path`, as a browser would read it."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log in through the form, then open the dashboard once (which hands out the CSRF cookie Dash sends back)."""
    response = client.post(
        "/login", data={"name": name, "password": password, "next": "/", "csrf_token": form_token(client)}
    )
    assert response.status_code == 302, response.data
    assert client.get("/").status_code == 200
    return client


def csrf_headers(client) -> dict:
    """The header Dash's renderer sends with every callback: the CSRF cookie's value."""
    cookie = client.get_cookie("_csrf_token")
    return {"X-CSRFToken": cookie.value} if cookie else {}


def dash_call(client, outputs, inputs, state=(), triggered=None):
    """POST one Dash callback the way the browser does: outputs [(id, prop)], inputs/state [(id, prop, value)]."""
    if len(outputs) == 1:
        output = f"{outputs[0][0]}.{outputs[0][1]}"
        outs = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outs = [{"id": i, "property": p} for i, p in outputs]
    first = triggered or f"{inputs[0][0]}.{inputs[0][1]}"
    body = {
        "output": output,
        "outputs": outs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [first],
    }
    return client.post("/_dash-update-component", json=body, headers=csrf_headers(client))


def wait_in_page(page, expression: str, seconds: float) -> None:
    """Wait until `expression` is true in the page. Playwright's wait_for_function evaluates a string inside
    the page, which the dashboard's Content-Security-Policy forbids (no eval); page.evaluate goes through
    the debugging protocol instead."""
    import time

    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not within {seconds} s: {expression}"
        time.sleep(0.05)
