"""POST /api/sms/inbound: authentication, malformed bodies, idempotency, and what is done with
each reply (score, one polite question, late, unknown number, several replies)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.base.settings import SmsSettings
from app.base.tables import ratings, sms_inbox, sms_outbox
from app.sms.gateway import FileGateway
from app.sms.routes import PATH, register
from app.sms.sender import Sender
from ingest.store import JUDGE_NOW

from .conftest import CST, add_case, local

TOKEN = "inbound-secret"
SENT_AT = local("2026-11-27 10:00")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def make_app(engine, token: str | None = TOKEN, now=None) -> Flask:
    """The blueprint alone in a bare Flask app, as the dashboard will register it."""
    app = Flask("sms-test")
    settings = SmsSettings(token=token) if token else SmsSettings()
    register(app, engine, sms_settings=settings, zone=CST, clock=Clock(now or local("2026-11-27 12:00")))
    return app


@pytest.fixture
def served(db, sms_settings, tmp_path):
    """Case C1 completed, its SMS sent to 13812341234 at 10:00."""
    add_case(db, "C1", local("2026-11-27 09:00"))
    Sender(db, FileGateway(tmp_path / "sms.jsonl"), sms_settings, CST).run_once(SENT_AT)
    return db


def post(client, body, token=TOKEN, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, (dict, list, str, int)) and "data" not in kwargs:
        kwargs["json"] = body
    return client.post(PATH, headers=headers, **kwargs)


def reply(message_id="M1", text="85", phone="13812341234", at="2026-11-27T11:00:00+08:00") -> dict:
    return {"message_id": message_id, "phone": phone, "text": text, "received_at": at}


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def nothing_changed(engine) -> bool:
    return count(engine, sms_inbox) == 0 and count(engine, ratings) == 0 and count(engine, sms_outbox) == 1


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x"])
def test_without_the_right_token_nothing_is_stored(served, token):
    client = make_app(served).test_client()
    response = post(client, reply(), token=token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert nothing_changed(served)


def test_basic_auth_is_not_a_bearer_token(served):
    client = make_app(served).test_client()
    response = client.post(PATH, json=reply(), auth=("admin", TOKEN))
    assert response.status_code == 401 and nothing_changed(served)


def test_unconfigured_server_refuses_everything(served):
    response = post(make_app(served, token=None).test_client(), reply())
    assert response.status_code == 503 and "SUPERVISE_SMS_TOKEN" in response.json["error"]
    assert nothing_changed(served)


@pytest.mark.parametrize(
    "kwargs,status,field",
    [
        ({"data": "message_id=M1&text=85", "content_type": "application/x-www-form-urlencoded"}, 415, None),
        ({"data": "{not json", "content_type": "application/json"}, 400, None),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400, None),
        ({"json": ["M1", "85"]}, 422, "body"),
        ({"json": {}}, 422, "message_id"),
        ({"json": reply(message_id="")}, 422, "message_id"),
        ({"json": reply(message_id="x" * 201)}, 422, "message_id"),
        ({"json": reply(phone="call me")}, 422, "phone"),
        ({"json": {**reply(), "phone": None}}, 422, "phone"),
        ({"json": {**reply(), "text": None}}, 422, "text"),
        ({"json": reply(text="好" * 2001)}, 422, "text"),
        ({"json": reply(at="yesterday")}, 422, "received_at"),
        ({"json": reply(at="2026-11-27T13:00:00+08:00")}, 422, "received_at"),  # an hour in the future
        ({"json": reply(at="0001-01-01T00:00:00+08:00")}, 422, "received_at"),  # year 1: overflowed into a 500
        ({"json": reply(at="0001-01-01")}, 422, "received_at"),
        ({"json": reply(at="9999-12-31T23:59:59-12:00")}, 422, "received_at"),
        ({"json": reply(at="2024-11-27T10:00:00+08:00")}, 422, "received_at"),  # two years old
        ({"data": json.dumps(reply(text="8" * 70_000)), "content_type": "application/json"}, 413, None),
    ],
)
def test_malformed_requests_get_a_clear_4xx_and_change_nothing(served, kwargs, status, field):
    response = make_app(served).test_client().post(PATH, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert response.status_code == status
    assert response.json["error"]
    if field:
        assert field in response.json["fields"]
    assert nothing_changed(served)


# --- what is done with a reply ----------------------------------------------------------------


def test_a_readable_reply_becomes_the_case_rating(served):
    response = post(make_app(served).test_client(), reply(phone="+86 138 1234 1234", text="８５分"))
    assert response.status_code == 200
    assert response.json == {"message_id": "M1", "outcome": "rated", "score": 85, "duplicate": False}
    with served.connect() as conn:
        rating = conn.execute(select(ratings)).mappings().one()
    assert (rating["source"], rating["source_id"], rating["case_no"], rating["score"]) == ("sms", "C1", "C1", 85)
    assert (rating["center_id"], rating["dept_id"], rating["window_id"], rating["staff_id"]) == (
        "GX-450100",
        "D-SCJG",
        "W-A01",
        "S-001",
    )
    assert rating["rated_at"] == local("2026-11-27 11:00")
    assert rating["next_change"] is None  # a good score raises nothing


def test_a_low_score_is_due_for_judgement(served):
    post(make_app(served).test_client(), reply(text="三十"))
    with served.connect() as conn:
        assert conn.execute(select(ratings.c.score, ratings.c.next_change)).one() == (30, JUDGE_NOW)


def test_the_same_message_twice_is_stored_once(served):
    client = make_app(served).test_client()
    first = post(client, reply())
    again = post(client, reply())
    assert again.status_code == 200
    assert again.json == {**first.json, "duplicate": True}
    assert count(served, sms_inbox) == 1 and count(served, ratings) == 1


def test_a_reused_message_id_with_other_content_is_a_conflict(served):
    client = make_app(served).test_client()
    post(client, reply(text="85"))
    response = post(client, reply(text="20"))
    assert response.status_code == 409
    with served.connect() as conn:
        assert conn.execute(select(ratings.c.score)).scalar_one() == 85


def test_unreadable_gets_one_polite_question_and_is_never_a_score(served):
    client = make_app(served).test_client()
    assert post(client, reply("M1", "很好，谢谢")).json["outcome"] == "asked_for_number"
    assert post(client, reply("M2", "十分满意", at="2026-11-27T11:05:00+08:00")).json["outcome"] == "unreadable"
    assert count(served, ratings) == 0
    with served.connect() as conn:
        asks = conn.execute(select(sms_outbox).where(sms_outbox.c.purpose == "ask_score")).mappings().all()
    assert len(asks) == 1
    assert asks[0]["phone"] == "13812341234" and "0至100" in asks[0]["text"] and asks[0]["reply_to"] == "M1"
    response = post(client, reply("M3", "九十", at="2026-11-27T11:10:00+08:00"))
    assert response.json == {"message_id": "M3", "outcome": "rated", "score": 90, "duplicate": False}


def test_several_replies_the_first_score_counts(served):
    client = make_app(served).test_client()
    post(client, reply("M1", "50"))
    second = post(client, reply("M2", "95", at="2026-11-27T11:30:00+08:00"))
    assert second.json["outcome"] == "already_rated" and second.json["score"] == 95
    assert post(client, reply("M3", "谢谢", at="2026-11-27T11:40:00+08:00")).json["outcome"] == "unreadable"
    with served.connect() as conn:
        assert conn.execute(select(ratings.c.score)).scalars().all() == [50]
        assert (
            conn.execute(
                select(func.count()).select_from(sms_outbox).where(sms_outbox.c.purpose == "ask_score")
            ).scalar_one()
            == 0
        )


def test_a_reply_after_seven_days_is_kept_but_not_counted(served):
    on_time = SENT_AT + timedelta(days=7)
    late = on_time + timedelta(seconds=1)
    client = make_app(served, now=late + timedelta(minutes=1)).test_client()
    response = post(client, reply("M1", "40", at=late.isoformat()))
    assert response.json["outcome"] == "late"
    assert post(client, reply("M2", "40", at=on_time.isoformat())).json["outcome"] == "rated"


def test_a_reply_from_an_unknown_number_is_kept_and_not_answered(served):
    response = post(make_app(served).test_client(), reply(phone="13900000000", text="我要投诉"))
    assert response.json["outcome"] == "unknown_number"
    assert count(served, sms_outbox) == 1  # no answer queued
    with served.connect() as conn:
        row = conn.execute(select(sms_inbox)).mappings().one()
    assert row["case_no"] is None and row["text"] == "我要投诉" and row["problem"] == "no number"


def test_a_reply_before_the_message_was_sent_answers_nothing(db, sms_settings):
    add_case(db, "C1", local("2026-11-27 09:00"))  # completed, SMS not sent yet
    response = post(make_app(db).test_client(), reply())
    assert response.json["outcome"] == "unknown_number"


def test_a_reply_answers_the_newest_message_to_that_number(db, sms_settings, tmp_path):
    add_case(db, "OLD", local("2026-11-25 09:00"))
    add_case(db, "NEW", local("2026-11-27 09:00"))
    sender = Sender(db, FileGateway(tmp_path / "sms.jsonl"), sms_settings, CST)
    sender.run_once(local("2026-11-25 10:00"))
    sender.run_once(SENT_AT)
    response = post(make_app(db).test_client(), reply())
    with db.connect() as conn:
        assert conn.execute(select(ratings.c.case_no)).scalar_one() == "NEW"
    assert response.json["outcome"] == "rated"


@pytest.mark.slow
def test_concurrent_deliveries_of_one_message_store_it_once_on_postgresql(pg_db, sms_settings, tmp_path):
    add_case(pg_db, "C1", local("2026-11-27 09:00"))
    Sender(pg_db, FileGateway(tmp_path / "sms.jsonl"), sms_settings, CST).run_once(SENT_AT)
    app = make_app(pg_db)
    answers = []

    def deliver(message_id):
        answers.append(post(app.test_client(), reply(message_id, "55")).json)

    threads = [threading.Thread(target=deliver, args=(f"M{i % 2}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(pg_db, sms_inbox) == 2 and count(pg_db, ratings) == 1
    assert sorted(a["outcome"] for a in answers if not a["duplicate"]) == ["already_rated", "rated"]
