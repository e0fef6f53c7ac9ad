"""A migrated supervision database on each backend, a small region, its users and red alarms."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from app.base.calendars import CalendarBook
from app.base.database import make_engine, upgrade
from app.base.tables import alarms, users
from app.orders.actors import Actor
from app.orders.orders import OrderRules
from app.queries.reference import Center, Department, Reference
from app.scope import scope_for

CST = ZoneInfo("Asia/Shanghai")
REGION, CITY, COUNTY = "GX-450000", "GX-450100", "GX-450102"
REFERENCE = Reference(
    centers={
        REGION: Center(REGION, "广西壮族自治区政务服务中心", "region", None),
        CITY: Center(CITY, "南宁市政务服务中心", "city", REGION),
        COUNTY: Center(COUNTY, "兴宁区政务服务中心", "county", CITY),
    },
    departments={
        "D1": Department("D1", COUNTY, "兴宁区市场监管局"),
        "D2": Department("D2", COUNTY, "兴宁区住建局"),
        "D3": Department("D3", CITY, "南宁市公安局"),
    },
)
RULES = OrderRules(CST, CalendarBook(), "桂政监督", 3)
ROLES = {
    "region": ("region", REGION),
    "city": ("city", CITY),
    "county": ("center", COUNTY),
    "city_center": ("center", CITY),
    "d1": ("department", "D1"),
    "d2": ("department", "D2"),
}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def actor(name: str) -> Actor:
    role, scope_id = ROLES[name]
    return Actor(name, scope_for(role, scope_id, REFERENCE))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(users),
            [
                {
                    "name": n,
                    "password_hash": "x",
                    "role": r,
                    "scope_id": s,
                    "active": True,
                    "created_at": local("2026-01-01"),
                }
                for n, (r, s) in ROLES.items()
            ],
        )
    yield engine
    engine.dispose()


def add_alarm(engine, case_no="C1", dept="D1", center=COUNTY, fired="2026-09-28 00:00", kind="promise_overdue", **more):
    with engine.begin() as conn:
        return conn.execute(
            insert(alarms)
            .values(
                kind=kind,
                level=more.pop("level", "alarm"),
                case_no=case_no,
                subject=more.pop("subject", ""),
                center_id=center,
                dept_id=dept,
                fired_at=local(fired),
                state=more.pop("state", "open"),
                updated_at=local(fired),
                **more,
            )
            .returning(alarms.c.id)
        ).scalar_one()
