"""While Redis is down the dashboard works from the database: a cache error is a miss, the
board and every page answer, the banner says the live channel is down, /healthz shows the
outbox backlog, and an officer's action waits in the outbox until a relay can publish it."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib

from app.base import outbox
from app.base.alarm_stream import read_after
from app.base.messaging import connect_url
from tests.faultproxy import FaultProxy
from tests.web.conftest import dash_call, login

BOARD_OUTPUTS = [
    ("control-room-ops", "data"),
    ("control-room-shown", "data"),
    ("control-room-position", "data"),
    ("control-room-counts", "children"),
    ("control-room-new-red", "data"),
]
BOARD_INPUTS = [
    ("control-room-poll", "n_intervals", 1),
    ("control-room-filter-center", "value", None),
    ("control-room-filter-dept", "value", None),
    ("control-room-filter-kind", "value", None),
    ("control-room-filter-level", "value", None),
]


@pytest.fixture(params=["cut", "hang"])
def redis_down(request, region, redis_url):
    """The app of the region with its Redis behind a proxy; the proxy, cut or hung once the app is up."""
    from app.web import create_app

    with FaultProxy("127.0.0.1", 6379) as proxy:
        url = redis_url.replace(":6379", f":{proxy.port}")
        settings = region.settings.model_copy(update={"redis_url": url})
        app = create_app(settings, lambda: region.now, engine=region.engine, background=False)
        client = login(app.test_client(), region.users["region"])
        assert board(client)  # a first look with Redis up fills the cache
        getattr(proxy, request.param)()
        yield app, client, proxy, url


def board(client) -> list:
    response = dash_call(
        client,
        BOARD_OUTPUTS,
        BOARD_INPUTS,
        [("control-room-shown", "data", None), ("control-room-position", "data", None)],
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    import json

    return json.loads(response.json["response"]["control-room-ops"]["data"]["json"])["inserts"]


def test_the_board_and_every_page_answer_from_the_database(redis_down, region):
    from app.web import MARKER_SECONDS

    app, client, _proxy, _url = redis_down
    started = time.monotonic()
    for _ in range(3):
        time.sleep(MARKER_SECONDS)  # the change marker is read again: from the database alone
        assert len(board(client)) == 24
    # A hang costs one socket timeout in this process, not one per request.
    assert time.monotonic() - started < 12
    new_alarm = region.add_alarm("GX-450103:MZ", fired_at=region.now)
    time.sleep(MARKER_SECONDS)
    assert new_alarm in {row[1]["id"] for row in board(client)} and len(board(client)) == 25
    for path in ("/", "/overview", "/kpi", "/wall", f"/case/{region.case_nos['GX-450102:MZ'][0]}"):
        page = dash_call(
            client,
            [("shell-page", "children"), ("shell-root", "className")],
            [("shell-url", "pathname", path), ("shell-url", "search", "")],
        )
        assert page.status_code == 200, (path, page.get_data(as_text=True)[:300])
    banner = dash_call(client, [("shell-banner", "children")], [("shell-banner-poll", "n_intervals", 1)])
    assert "实时通道（Redis）暂时中断" in banner.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["redis"] is False and health.json["status"] == "degraded"
    assert health.json["outbox"] == {"backlog": 0, "oldest_seconds": 0.0}
    snapshot = client.get("/video/GX-450102:MZ:CAM1/snapshot.jpg")
    assert snapshot.status_code in (403, 404, 503)  # never a 500
    assert "supervise_redis_up 0.0" in client.get("/metrics").get_data(as_text=True)


def test_an_officers_action_waits_in_the_outbox_and_reaches_the_stream_when_redis_is_back(redis_down, region):
    app, client, proxy, url = redis_down
    alarm_id = region.alarm_ids["GX-450102:MZ"][0]
    done = dash_call(
        client,
        [("control-room-result", "children"), ("control-room-note", "value"), ("control-room-acted", "data")],
        [
            ("control-room-ack", "n_clicks", 1),
            ("control-room-urge", "n_clicks", None),
            ("control-room-close", "n_clicks", None),
        ],
        [
            ("control-room-selected", "data", alarm_id),
            ("control-room-note", "value", "已核实"),
            ("control-room-acted", "data", 0),
        ],
        triggered="control-room-ack.n_clicks",
    )
    assert done.status_code == 200 and f"已确认报警 {alarm_id}" in done.get_data(as_text=True)
    assert client.get("/healthz").json["outbox"]["backlog"] == 1
    proxy.heal()
    relay = app.extensions["supervise"].relay
    deadline = time.monotonic() + 20
    while outbox.backlog(region.engine).count and time.monotonic() < deadline:
        try:
            relay.drain()
        except redis_lib.RedisError:
            time.sleep(0.2)
    _, changes = read_after(connect_url(url), "0-0")
    assert [(c.alarm_id, c.action, c.actor, c.state) for c in changes] == [
        (alarm_id, "ack", region.users["region"], "acknowledged")
    ]
