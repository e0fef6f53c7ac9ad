"""The sender: one completion SMS per case, sending hours, retries with back-off, and never a
second copy — whatever fails, and wherever the sender dies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.base.tables import sms_outbox
from app.sms import outbox
from app.sms.gateway import FileGateway, HttpGateway, Outgoing, PermanentFailure, TemporaryFailure, outgoing_id
from app.sms.sender import Sender, backoff

from .conftest import CST, add_case, local
from .provider import Provider


def rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(sms_outbox).order_by(sms_outbox.c.id)).mappings()]


class Flaky:
    """The real file gateway behind faults we cannot produce otherwise."""

    name = "file"

    def __init__(self, inner: FileGateway, fail: list = (), crash_after_send: int = 0):
        self.inner = inner
        self.fail = list(fail)
        self.crash_after_send = crash_after_send
        self.calls = 0

    def send(self, message, now):
        self.calls += 1
        if self.fail:
            raise self.fail.pop(0)
        delivery = self.inner.send(message, now)
        if self.crash_after_send:
            self.crash_after_send -= 1
            raise TemporaryFailure("connection reset after the message went out")
        return delivery


def test_each_completed_case_gets_exactly_one_sms(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 09:00"))
    add_case(db, "C2", local("2026-11-27 09:30"), phone="+86 139-0000-0000")
    add_case(db, "C3", None)  # not completed: nothing to say yet
    add_case(db, "C4", local("2026-11-27 09:40"), phone=None)  # no phone
    gateway = FileGateway(tmp_path / "sms.jsonl")
    sender = Sender(db, gateway, sms_settings, CST, names=lambda c, w: ("南宁市政务服务中心", "A01"))
    for minute in range(0, 50, 10):  # many rounds, as a running sender makes
        sender.run_once(local("2026-11-27 10:00") + timedelta(minutes=minute))
    lines = gateway.lines()
    assert sorted(line["phone"] for line in lines) == ["13812341234", "13900000000"]
    assert [r["case_no"] for r in rows(db)] == ["C1", "C2"]
    text = next(line["text"] for line in lines if line["phone"] == "13812341234")
    assert "C1" in text and "已办结" in text and "南宁市政务服务中心A01号窗口" in text and "0至100" in text


def test_outside_sending_hours_messages_wait_for_the_morning(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 21:30"))
    gateway = FileGateway(tmp_path / "sms.jsonl")
    sender = Sender(db, gateway, sms_settings, CST)
    late = sender.run_once(local("2026-11-27 21:31"))
    assert late.queued == 1 and late.held and not gateway.lines()
    assert sender.run_once(local("2026-11-28 07:59:59")).held
    assert not gateway.lines()
    morning = sender.run_once(local("2026-11-28 08:00"))
    assert morning.sent == 1 and len(gateway.lines()) == 1
    assert rows(db)[0]["sent_at"] == local("2026-11-28 08:00")


def test_old_completions_are_not_surveyed(db, sms_settings, tmp_path):
    add_case(db, "OLD", local("2026-11-20 10:00"))  # a week ago: a backfill, not news
    add_case(db, "FUTURE", local("2026-11-27 12:00"))  # after 'now' in a replay
    sender = Sender(db, FileGateway(tmp_path / "sms.jsonl"), sms_settings, CST)
    assert sender.run_once(local("2026-11-27 10:00")).queued == 0
    assert sender.run_once(local("2026-11-27 12:00")).queued == 1


def test_temporary_failures_retry_with_backoff_and_send_once(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 09:00"))
    file = FileGateway(tmp_path / "sms.jsonl")
    gateway = Flaky(file, fail=[TemporaryFailure("HTTP 503"), TemporaryFailure("timeout")])
    sender = Sender(db, gateway, sms_settings, CST)
    now = local("2026-11-27 10:00")
    assert sender.run_once(now).retrying == 1
    (row,) = rows(db)
    first_wait = row["not_before"] - now
    assert row["state"] == "queued" and row["attempts"] == 1 and row["last_error"] == "HTTP 503"
    assert timedelta(seconds=60) <= first_wait <= timedelta(seconds=75)
    assert sender.run_once(now + timedelta(seconds=30)).sent == 0  # not yet due
    assert gateway.calls == 1
    retry_at = row["not_before"]
    assert sender.run_once(retry_at).retrying == 1
    second_wait = rows(db)[0]["not_before"] - retry_at
    assert second_wait == 2 * first_wait  # doubles each attempt
    assert sender.run_once(rows(db)[0]["not_before"]).sent == 1
    (row,) = rows(db)
    assert row["state"] == "sent" and row["attempts"] == 3 and row["last_error"] is None
    assert len(file.lines()) == 1


def test_retry_after_a_send_whose_answer_was_lost_sends_no_second_copy(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 09:00"))
    file = FileGateway(tmp_path / "sms.jsonl")
    sender = Sender(db, Flaky(file, crash_after_send=1), sms_settings, CST)
    now = local("2026-11-27 10:00")
    assert sender.run_once(now).retrying == 1
    result = sender.run_once(rows(db)[0]["not_before"])
    assert result.already_sent == 1 and result.sent == 0
    (row,) = rows(db)
    assert row["state"] == "sent" and row["sent_at"] == now  # when it really went out
    assert len(file.lines()) == 1


def test_sender_dying_between_send_and_mark_does_not_resend(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 09:00"))
    path = tmp_path / "sms.jsonl"
    now = local("2026-11-27 10:00")
    outbox.enqueue_completions(db, now, "政务服务", timedelta(hours=72))
    # The first sender claims the message, hands it to the gateway, and dies before marking it.
    (claimed,) = outbox.claim(db, now, 10, timedelta(minutes=5))
    FileGateway(path).send(Outgoing(outgoing_id(claimed.id), claimed.phone, claimed.text), now)
    assert rows(db)[0]["state"] == "sending"
    restarted = Sender(db, FileGateway(path), sms_settings, CST)
    assert restarted.run_once(now + timedelta(minutes=4)).sent == 0  # within the lease: still the other's
    result = restarted.run_once(now + timedelta(minutes=5))
    assert result.already_sent == 1 and result.sent == 0
    assert rows(db)[0]["state"] == "sent"
    assert len(FileGateway(path).lines()) == 1
    # The dead sender's late mark cannot overwrite the new state.
    assert not outbox.mark_failed(db, claimed, "too late", now + timedelta(minutes=6))
    assert rows(db)[0]["state"] == "sent"


def test_permanent_failure_and_exhausted_attempts_end_in_failed(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 09:00"))
    add_case(db, "C2", local("2026-11-27 09:01"), phone="13900000000")
    file = FileGateway(tmp_path / "sms.jsonl")
    gateway = Flaky(file, fail=[PermanentFailure("HTTP 422: invalid number")] + [TemporaryFailure("503")] * 10)
    sender = Sender(db, gateway, sms_settings, CST)
    now = local("2026-11-27 10:00")
    for _ in range(8):
        sender.run_once(now)
        now += timedelta(hours=2)
    by_case = {r["case_no"]: r for r in rows(db)}
    assert by_case["C1"]["state"] == "failed" and by_case["C1"]["attempts"] == 1
    assert by_case["C2"]["state"] == "failed" and by_case["C2"]["attempts"] == sms_settings.max_attempts
    assert not file.lines()


def test_a_landline_is_recorded_but_never_sent(db, sms_settings, tmp_path):
    add_case(db, "C0", local("2026-11-27 08:59"))  # queued in the same statement, before it
    add_case(db, "C1", local("2026-11-27 09:00"), phone="0771-1234567")
    file = FileGateway(tmp_path / "sms.jsonl")
    result = Sender(db, file, sms_settings, CST).run_once(local("2026-11-27 10:00"))
    assert result.queued == 2 and result.sent == 1
    row = rows(db)[1]
    assert row["state"] == "failed" and row["last_error"] == "077****4567 is not a mainland mobile number"


def test_backoff_is_bounded_and_fixed_per_message():
    assert backoff(1, 7, 30, 3600) == backoff(1, 7, 30, 3600)
    assert backoff(20, 7, 30, 3600) <= timedelta(seconds=3600 * 1.25)
    assert timedelta(seconds=30) <= backoff(1, 8, 30, 3600) <= timedelta(seconds=37.5)


def test_http_gateway_end_to_end_with_retries(db, sms_settings, tmp_path):
    add_case(db, "C1", local("2026-11-27 09:00"))
    with Provider() as provider:
        provider.fail_next = [503]
        provider.lose_response_once = True
        sender = Sender(db, HttpGateway(provider.url, provider.token, 5), sms_settings, CST)
        now = local("2026-11-27 10:00")
        for _ in range(4):
            sender.run_once(now)
            now += timedelta(minutes=10)
        assert list(provider.delivered) == [f"sms-{rows(db)[0]['id']}"]
        (row,) = rows(db)
        assert row["state"] == "sent" and row["gateway_ref"] == f"P-sms-{row['id']}" and row["attempts"] == 3


@pytest.mark.slow
def test_claims_on_postgresql_never_overlap(pg_db, sms_settings):
    now = local("2026-11-27 10:00")
    for i in range(30):
        add_case(pg_db, f"C{i}", local("2026-11-27 09:00"), phone=f"1380000{i:04d}")
    outbox.enqueue_completions(pg_db, now, "政务服务", timedelta(hours=72))
    import threading

    taken: list[int] = []
    lock = threading.Lock()

    def claim_some():
        for _ in range(5):
            got = outbox.claim(pg_db, now, 4, timedelta(minutes=5))
            with lock:
                taken.extend(c.id for c in got)

    threads = [threading.Thread(target=claim_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 30


def test_one_round_sends_everything_due_batch_after_batch(db, tmp_path):
    from app.base.settings import SmsSettings

    for i in range(5):
        add_case(db, f"C{i}", local("2026-11-27 09:00"), phone=f"1380000{i:04d}")
    file = FileGateway(tmp_path / "sms.jsonl")
    result = Sender(db, file, SmsSettings(batch_size=2), CST).run_once(local("2026-11-27 10:00"))
    assert (result.queued, result.sent) == (5, 5) and len(file.lines()) == 5
