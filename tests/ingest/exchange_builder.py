"""A small hand-made exchange database: one city, one county, three items.

Tests write case events into it exactly as an upstream system would, then run
the real `supervise` commands against it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from app.base import exchange as x

CST = ZoneInfo("Asia/Shanghai")

CENTERS = [
    {
        "center_id": "GX-450000",
        "name": "广西壮族自治区政务服务中心",
        "level": "region",
        "parent_id": None,
        "area_code": "450000",
    },
    {
        "center_id": "GX-450100",
        "name": "南宁市政务服务中心",
        "level": "city",
        "parent_id": "GX-450000",
        "area_code": "450100",
    },
    {
        "center_id": "GX-450102",
        "name": "兴宁区政务服务中心",
        "level": "county",
        "parent_id": "GX-450100",
        "area_code": "450102",
    },
]
DEPARTMENTS = [
    {"dept_id": "D-SCJG", "center_id": "GX-450100", "name": "市场监管局"},
    {"dept_id": "D-ZJ", "center_id": "GX-450100", "name": "住建局"},
    {"dept_id": "D-GA", "center_id": "GX-450102", "name": "公安局"},
]
WINDOWS = [{"window_id": "W-A01", "center_id": "GX-450100", "dept_id": "D-SCJG", "label": "A01"}]
CAMERAS = [{"camera_id": "C-A01", "window_id": "W-A01", "url": "rtsp://u:secret@127.0.0.1:1/cam1", "enabled": True}]
STAFF = [{"staff_id": "S-001", "name": "李明", "dept_id": "D-SCJG", "window_id": "W-A01"}]
ITEMS = [
    # 5 promised / 20 statutory working days, free.
    {
        "item_code": "ITEM-W",
        "name": "食品经营许可",
        "dept_id": "D-SCJG",
        "promised_days": 5,
        "statutory_days": 20,
        "day_unit": "working",
        "fee_yuan": Decimal("0"),
    },
    # natural days.
    {
        "item_code": "ITEM-N",
        "name": "建设工程规划许可证核发",
        "dept_id": "D-ZJ",
        "promised_days": 10,
        "statutory_days": 30,
        "day_unit": "natural",
        "fee_yuan": Decimal("0"),
    },
    # a fee of 50 yuan.
    {
        "item_code": "ITEM-FEE",
        "name": "机动车驾驶证补证",
        "dept_id": "D-GA",
        "promised_days": 3,
        "statutory_days": 10,
        "day_unit": "working",
        "fee_yuan": Decimal("50.00"),
    },
]


def local(text: str) -> datetime:
    """'2025-09-29 09:00' as Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


class Exchange:
    def __init__(self, url: str):
        self.engine = x.exchange_engine(url)
        x.create_exchange_schema(self.engine)
        with self.engine.begin() as conn:
            for table, rows in (
                (x.centers, CENTERS),
                (x.departments, DEPARTMENTS),
                (x.windows, WINDOWS),
                (x.cameras, CAMERAS),
                (x.staff, STAFF),
                (x.items, ITEMS),
            ):
                conn.execute(insert(table), rows)

    @classmethod
    def attach(cls, url: str) -> Exchange:
        """An exchange database that exists already, as it is."""
        exchange = cls.__new__(cls)
        exchange.engine = x.exchange_engine(url)
        return exchange

    def event(
        self,
        case_no,
        kind,
        occurred,
        payload=None,
        *,
        recorded=None,
        item_code=None,
        center_id="GX-450100",
        dept_id="D-SCJG",
        window_id="W-A01",
        staff_id="S-001",
    ) -> None:
        occurred_at = local(occurred) if isinstance(occurred, str) else occurred
        recorded_at = recorded and (local(recorded) if isinstance(recorded, str) else recorded)
        row = {
            "case_no": case_no,
            "kind": kind,
            "occurred_at": occurred_at,
            "recorded_at": recorded_at or (occurred_at + timedelta(seconds=5) if occurred_at else datetime.now(UTC)),
            "source_system": "test",
            "center_id": center_id,
            "dept_id": dept_id,
            "window_id": window_id,
            "staff_id": staff_id,
            "item_code": item_code,
            "payload": {} if payload is None else payload,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(x.case_events), [row])

    def raw(self, sql: str, **params) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(sql), params)
