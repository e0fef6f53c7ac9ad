"""Every alarm change reaches Redis, in the documented stream, as versioned JSON."""

from __future__ import annotations

import pytest
import redis as redis_lib

from app.base.alarm_stream import STREAM, read_after, snapshot_position

pytestmark = pytest.mark.slow


def test_alarm_changes_are_published_to_the_stream(exchange, supervise, redis_url):
    supervise.env["SUPERVISE_REDIS_URL"] = redis_url
    client = redis_lib.Redis.from_url(redis_url)
    start = snapshot_position(client)
    exchange.event("R1", "received", "2025-09-29 09:00", item_code="ITEM-W")
    exchange.event("R1", "accepted", "2025-09-29 10:00")
    supervise.ingest("2025-10-14T08:00:00+08:00")
    position, changes = read_after(client, start)
    assert [(c.kind, c.action, c.state) for c in changes] == [
        ("promise_warning", "fired", "open"),
        ("promise_warning", "resolved", "closed"),  # red supersedes yellow at 00:00 on 10-14
        ("promise_overdue", "fired", "open"),
        # Escalations in the order of their instants: the warning was left unacknowledged for days
        # before red superseded it (an ingest running every day would have recorded it then too),
        # the overdue alarm fired at 00:00 and was still unacknowledged at 00:30.
        ("promise_warning", "escalated", "closed"),
        ("promise_overdue", "escalated", "open"),
    ]
    assert all(c.version == 1 and c.case_no == "R1" for c in changes)
    assert [c.change_id for c in changes] == sorted({c.change_id for c in changes})  # each once, in order

    overdue = next(c for c in changes if c.kind == "promise_overdue")
    supervise("alarm", "ack", str(overdue.alarm_id), "--by", "王督查", "--note", "已核实")
    _, more = read_after(client, position)
    assert [(c.alarm_id, c.action, c.actor, c.state) for c in more] == [
        (overdue.alarm_id, "ack", "王督查", "acknowledged")
    ]
    assert client.xlen(STREAM) == 6
