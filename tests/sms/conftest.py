"""Fixtures of the SMS tests: a migrated supervision database and cases written
straight into it (the table contract, not the ingest's progress)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from app.base.database import make_engine, upgrade
from app.base.settings import SmsSettings
from app.base.tables import cases

CST = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """'2026-11-27 10:00' in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.fixture
def db(sqlite_url):
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_db(pg_url):
    engine = make_engine(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sms_settings(monkeypatch) -> SmsSettings:
    for name in list(__import__("os").environ):
        if name.startswith("SUPERVISE_SMS_"):
            monkeypatch.delenv(name)
    return SmsSettings(retry_seconds=60, retry_max_seconds=3600, max_attempts=4, lease_seconds=300)


def add_case(
    engine,
    case_no: str,
    completed_at: datetime | None,
    phone: str | None = "13812341234",
    *,
    center_id="GX-450100",
    dept_id="D-SCJG",
    window_id="W-A01",
    staff_id="S-001",
) -> None:
    received = (completed_at or datetime(2026, 11, 20, tzinfo=UTC)) - timedelta(days=3)
    with engine.begin() as conn:
        conn.execute(
            insert(cases).values(
                case_no=case_no,
                item_code="ITEM-W",
                center_id=center_id,
                dept_id=dept_id,
                window_id=window_id,
                staff_id=staff_id,
                applicant_phone=phone,
                status="completed" if completed_at else "accepted",
                received_at=received,
                completed_at=completed_at,
                result="approved" if completed_at else None,
                clocks=[],
                judged_at=completed_at or received,
            )
        )
