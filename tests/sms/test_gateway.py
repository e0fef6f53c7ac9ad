"""The gateways: the real file gateway and the HTTP gateway against a real local server."""

from __future__ import annotations

import json
import threading

import pytest

from app.sms.gateway import FileGateway, HttpGateway, Outgoing, PermanentFailure, TemporaryFailure

from .conftest import local
from .provider import Provider

NOW = local("2026-11-27 10:00")
MESSAGE = Outgoing("sms-1", "13812341234", "【政务服务】您好，您申请的办件（编号：C1）已办结。")


# --- file -----------------------------------------------------------------------------------


def test_file_gateway_appends_one_json_line(tmp_path):
    gateway = FileGateway(tmp_path / "var" / "sms-outbox.jsonl")
    delivery = gateway.send(MESSAGE, NOW)
    assert not delivery.duplicate and delivery.sent_at == NOW
    (line,) = gateway.lines()
    assert line == {
        "v": 1,
        "message_id": "sms-1",
        "phone": "13812341234",
        "text": MESSAGE.text,
        "sent_at": NOW.isoformat(),
    }
    assert (tmp_path / "var" / "sms-outbox.jsonl").stat().st_mode & 0o077 == 0  # it holds full numbers


def test_file_gateway_never_writes_an_id_twice(tmp_path):
    path = tmp_path / "sms.jsonl"
    FileGateway(path).send(MESSAGE, NOW)
    # A restarted sender (a new gateway object, no memory) sends the same id again.
    again = FileGateway(path).send(MESSAGE, local("2026-11-27 10:05"))
    assert again.duplicate and again.sent_at == NOW
    assert len(FileGateway(path).lines()) == 1


def test_file_gateway_sees_lines_other_processes_wrote(tmp_path):
    path = tmp_path / "sms.jsonl"
    first, second = FileGateway(path), FileGateway(path)
    first.send(MESSAGE, NOW)
    second.send(Outgoing("sms-2", "13900000000", "x"), NOW)
    assert first.send(Outgoing("sms-2", "13900000000", "x"), NOW).duplicate
    assert [line["message_id"] for line in first.lines()] == ["sms-1", "sms-2"]


def test_file_gateway_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "sms.jsonl"
    path.write_bytes(json.dumps({"message_id": "sms-0"}).encode() + b"\n" + b'{"message_id": "sms-1", "ph')
    gateway = FileGateway(path)
    assert not gateway.send(MESSAGE, NOW).duplicate  # the torn write never completed: send it
    assert [line["message_id"] for line in gateway.lines()] == ["sms-0", "sms-1"]


def test_file_gateway_concurrent_senders_write_each_id_once(tmp_path):
    path = tmp_path / "sms.jsonl"
    messages = [Outgoing(f"sms-{i}", "13812341234", f"text {i}") for i in range(40)]

    def send_all():
        gateway = FileGateway(path)
        for message in messages:
            gateway.send(message, NOW)

    threads = [threading.Thread(target=send_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [line["message_id"] for line in FileGateway(path).lines()]
    assert sorted(ids) == sorted(m.message_id for m in messages)


def test_file_gateway_unwritable_path_is_temporary(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(TemporaryFailure):
        FileGateway(blocker / "sms.jsonl").send(MESSAGE, NOW)


# --- HTTP ------------------------------------------------------------------------------------


@pytest.fixture
def provider():
    with Provider() as running:
        yield running


def test_http_gateway_sends_id_token_and_text(provider):
    delivery = HttpGateway(provider.url, provider.token, 5).send(MESSAGE, NOW)
    assert delivery.ref == "P-sms-1" and not delivery.duplicate
    (request,) = provider.requests
    assert request["body"] == {"client_message_id": "sms-1", "phone": "13812341234", "text": MESSAGE.text}
    assert request["headers"]["Idempotency-Key"] == "sms-1"


def test_http_gateway_repeat_is_a_duplicate_not_a_second_message(provider):
    gateway = HttpGateway(provider.url, provider.token, 5)
    gateway.send(MESSAGE, NOW)
    again = gateway.send(MESSAGE, NOW)
    assert again.duplicate and again.ref == "P-sms-1"
    assert list(provider.delivered) == ["sms-1"]


@pytest.mark.parametrize(
    "status,error",
    [
        (500, TemporaryFailure),
        (502, TemporaryFailure),
        (503, TemporaryFailure),
        (429, TemporaryFailure),
        (400, PermanentFailure),
        (422, PermanentFailure),
    ],
)
def test_http_gateway_classifies_refusals(provider, status, error):
    provider.fail_next = [status]
    with pytest.raises(error) as caught:
        HttpGateway(provider.url, provider.token, 5).send(MESSAGE, NOW)
    assert str(status) in str(caught.value)
    if status == 429:
        assert caught.value.retry_after == 120
    assert not provider.delivered


def test_http_gateway_wrong_token_is_temporary(provider):
    # A credentials problem is fixed by an operator, not by dropping the message.
    with pytest.raises(TemporaryFailure, match="401"):
        HttpGateway(provider.url, "wrong", 5).send(MESSAGE, NOW)


def test_http_gateway_timeout_is_temporary(provider):
    provider.stall_seconds = 1.0
    with pytest.raises(TemporaryFailure):
        HttpGateway(provider.url, provider.token, 0.3).send(MESSAGE, NOW)


def test_http_gateway_unreachable_is_temporary():
    with pytest.raises(TemporaryFailure, match="unreachable"):
        HttpGateway("http://127.0.0.1:9/v1/sms", "t", 2).send(MESSAGE, NOW)


def test_http_gateway_lost_response_then_retry_delivers_once(provider):
    provider.lose_response_once = True
    gateway = HttpGateway(provider.url, provider.token, 5)
    with pytest.raises(TemporaryFailure):
        gateway.send(MESSAGE, NOW)  # the provider took it, but we never heard
    assert gateway.send(MESSAGE, NOW).duplicate
    assert list(provider.delivered) == ["sms-1"]
