"""The whole path with the real commands: a case completes in the exchange database →
`supervise ingest --once` → the outbox → the file gateway (only within sending hours) → the
applicant's reply through POST /api/sms/inbound → a score in the ratings and the KPIs →
low_satisfaction → the rectification clock, replayed with --now to 15 working days later."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from app.base import exchange as x
from app.base.calendars import CalendarBook
from app.base.database import make_engine
from app.base.settings import SmsSettings
from app.base.tables import kpi_daily
from app.cli import cli
from app.kpi.aggregate import refresh
from app.scope import Scope
from app.sms import satisfaction
from app.sms.routes import PATH, register
from ingest.ratings import take_ratings

from ..ingest.exchange_builder import Exchange
from .conftest import CST, local

TOKEN = "e2e-token"
REGION = Scope("region", "GX-450000", None)


class World:
    def __init__(self, tmp_path: Path):
        self.var = tmp_path
        self.exchange = Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")
        self.env = {"SUPERVISE_VAR_DIR": str(tmp_path)}
        self.runner = CliRunner()
        self.now = local("2026-11-23 09:00")

    def __call__(self, *args: str) -> str:
        result = self.runner.invoke(cli, list(args), env=self.env)
        assert result.exit_code == 0, f"supervise {' '.join(args)}: {result.output}{result.exception!r}"
        return result.stdout

    def lines(self, *args: str) -> list[dict]:
        return [json.loads(line) for line in self(*args).splitlines()]

    @property
    def db(self):
        return make_engine(f"sqlite:///{self.var / 'supervise.db'}")

    def ingest(self, at: str) -> None:
        """One ingest cycle at `at`: the command, then the ratings step the pipeline will call."""
        self("ingest", "--once", "--now", at)
        take_ratings(self.exchange.engine, self.db, CalendarBook(), CST, datetime.fromisoformat(at))

    def alarms(self) -> list[dict]:
        return self.lines("alarms", "--json", "--state", "all")

    def gateway_file(self) -> list[dict]:
        path = self.var / "sms-outbox.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def reply(self, message_id: str, text: str, at: str):
        app = Flask("e2e")
        register(
            app, self.db, sms_settings=SmsSettings(token=TOKEN), zone=CST, clock=lambda: datetime.fromisoformat(at)
        )
        return app.test_client().post(
            PATH,
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"message_id": message_id, "phone": "138 1234 1234", "text": text, "received_at": at},
        )


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    for name in list(os.environ):
        if name.startswith("SUPERVISE_"):
            monkeypatch.delenv(name)
    return World(tmp_path)


def test_completion_sms_to_rectification_overdue(world):
    ex = world.exchange
    ex.event("C1", "received", "2026-11-23 09:00", {"applicant_phone": "13812341234"}, item_code="ITEM-W")
    ex.event("C1", "accepted", "2026-11-23 09:30")
    ex.event("C1", "completed", "2026-11-26 20:30", {"result": "approved"})
    ex.event("C2", "received", "2026-11-23 10:00", {"applicant_phone": "13900000000"}, item_code="ITEM-W")
    world.ingest("2026-11-26T20:40:00+08:00")
    assert world.lines("case", "C1", "--json")[0]["status"] == "completed"

    # 1. Completed at 20:30: queued, but 21:30 is outside sending hours, so it waits for 08:00.
    world("sms", "send", "--once", "--now", "2026-11-26T21:30:00+08:00")
    (queued,) = world.lines("sms", "outbox", "--json", "--now", "2026-11-26T21:30:00+08:00")
    assert (queued["case_no"], queued["state"], queued["phone"]) == ("C1", "queued", "138****1234")
    assert queued["next_attempt_at"] == "2026-11-27T08:00:00+08:00"
    assert world.gateway_file() == []
    for at in ("2026-11-27T08:00:00+08:00", "2026-11-27T08:01:00+08:00"):  # a second round sends nothing more
        world("sms", "send", "--once", "--now", at)
    (sent,) = world.gateway_file()
    assert sent["phone"] == "13812341234" and "C1" in sent["text"] and "已办结" in sent["text"]
    assert "南宁市政务服务中心A01号窗口" in sent["text"] and "0至100" in sent["text"]
    assert world.lines("sms", "outbox", "--json")[0]["state"] == "sent"

    # 2. The applicant answers in words first: one polite question, no score. Then a number.
    first = world.reply("P-1", "服务态度还行吧", "2026-11-27T09:00:00+08:00")
    assert first.json["outcome"] == "asked_for_number" and first.json["score"] is None
    assert world.reply("P-1", "服务态度还行吧", "2026-11-27T09:00:00+08:00").json["duplicate"] is True
    world("sms", "send", "--once", "--now", "2026-11-27T09:01:00+08:00")
    assert [line["text"].count("0至100") for line in world.gateway_file()] == [1, 1]
    second = world.reply("P-2", "四十分", "2026-11-27T09:05:00+08:00")
    assert second.json == {"message_id": "P-2", "outcome": "rated", "score": 40, "duplicate": False}
    inbox = world.lines("sms", "inbox", "--json")
    assert [(r["message_id"], r["phone"], r["case_no"], r["score"], r["outcome"]) for r in inbox] == [
        ("P-2", "138****1234", "C1", 40, "rated"),
        ("P-1", "138****1234", "C1", None, "asked_for_number"),
    ]

    # 3. An on-site device rates C2's window 0 (不满意), and a broken device sends 150.
    with ex.engine.begin() as conn:
        conn.execute(
            x.onsite_ratings.insert(),
            [
                {
                    "case_no": "C2",
                    "window_id": "W-A01",
                    "staff_id": "S-001",
                    "score": 0,
                    "rated_at": local("2026-11-27 10:00"),
                },
                {
                    "case_no": "C2",
                    "window_id": "W-A01",
                    "staff_id": "S-001",
                    "score": 150,
                    "rated_at": local("2026-11-27 10:01"),
                },
            ],
        )
    world.ingest("2026-11-27T10:05:00+08:00")
    assert {"event_id": 2, "reason": "score 150 is outside 0–100"}.items() <= next(
        q for q in world.lines("quality", "--json") if q["source"] == "onsite_ratings"
    ).items()
    warnings = [a for a in world.alarms() if a["kind"] == "low_satisfaction"]
    assert [(a["case_no"], a["subject"], a["fired_at"], a["state"]) for a in warnings] == [
        ("C1", "sms:1", "2026-11-27T09:05:00+08:00", "open"),
        ("C2", "onsite:2", "2026-11-27T10:00:00+08:00", "open"),
    ]

    # 4. The score is in the satisfaction queries and the KPI pre-aggregation.
    day = satisfaction.totals(world.db, REGION, local("2026-11-27 00:00").date(), local("2026-11-27 00:00").date(), CST)
    assert (day.ratings, day.sms, day.onsite, day.low, day.avg_score) == (2, 1, 1, 2, 20.0)
    refresh(world.db, CST, local("2026-11-27 10:10"))
    with world.db.connect() as conn:
        assert conn.execute(select(func.sum(kpi_daily.c.ratings), func.sum(kpi_daily.c.rating_sum))).one() == (2, 40)

    # 5. C2's rating is followed up (整改) in time; C1's is not.
    world(
        "rating",
        "follow-up",
        "2",
        "--by",
        "王科长",
        "--note",
        "已约谈窗口人员并电话回访",
        "--now",
        "2026-12-01T10:00:00+08:00",
    )
    world.ingest("2026-12-01T10:01:00+08:00")
    assert [(r["id"], r["follow_up_due"]) for r in world.lines("rating", "list", "--json", "--open")] == [
        (1, "2026-12-18")
    ]

    # 6. Replay: still in time at the last instant of the 15th working day, red at 00:00 after it.
    world.ingest("2026-12-18T23:59:59+08:00")
    assert not [a for a in world.alarms() if a["kind"] == "rectification_overdue"]
    world.ingest("2026-12-19T00:00:00+08:00")
    overdue = [a for a in world.alarms() if a["kind"] == "rectification_overdue"]
    assert [(a["case_no"], a["subject"], a["level"], a["fired_at"], a["due"]) for a in overdue] == [
        ("C1", "sms:1", "alarm", "2026-12-19T00:00:00+08:00", "2026-12-18")
    ]
    by_subject = {(a["kind"], a["subject"]): (a["state"], a["closed_reason"]) for a in world.alarms()}
    assert by_subject[("low_satisfaction", "onsite:2")] == ("closed", "resolved")
    assert by_subject[("low_satisfaction", "sms:1")] == ("open", None)
    before = world.alarms()
    world.ingest("2026-12-19T00:00:00+08:00")  # running it again changes nothing
    assert world.alarms() == before
