"""Out-of-range input gets a 4xx (or the page's own message), never a 500: dates of
year 1 or 9999, numbers beyond any id, limits out of bounds."""

from __future__ import annotations

import json

import pytest

from tests.web.conftest import dash_call, login

HUGE = str(2**70)


@pytest.fixture
def officer(web_app, region):
    return login(web_app.test_client(), region.users["region"])


QUERIES = [
    # path, status
    ("/api/kpi?from=0001-01-01", 400),  # answered 500: the instant overflowed on its way to UTC
    ("/api/kpi?to=9999-12-31", 400),
    ("/api/kpi?from=1999-12-31&to=2000-01-05", 400),
    ("/api/kpi?from=2026-11-30&to=2026-11-01", 400),  # backwards
    ("/api/kpi?from=2020-01-01&to=2026-11-27", 400),  # longer than five years
    ("/api/kpi?from=yesterday", 400),
    ("/api/kpi?from=2026-11-01&to=2026-11-27", 200),
    ("/pdf/kpi.pdf?from=0001-01-01", 400),
    (f"/evidence/{HUGE}.jpg", 404),
    ("/api/alarms?limit=" + HUGE, 400),
    ("/api/alarms?limit=0", 400),
    ("/api/alarms?limit=-5", 400),
    ("/api/alarms?limit=ten", 400),
    ("/api/alarms?limit=10001", 400),
    ("/api/alarms?limit=10000", 200),
]


def test_query_parameters(officer):
    for path, status in QUERIES:  # one region for them all: building it is what takes the time
        response = officer.get(path)
        assert response.status_code == status, (path, response.data[:300])
        if status == 400 and path.startswith("/api/"):
            assert response.json["error"], path


def test_api_alarms_says_when_more_exist(officer, region):
    few = officer.get("/api/alarms?limit=2")
    assert len(few.json) == 2 and few.headers["X-Supervise-More"] == "true"
    every = officer.get("/api/alarms?limit=10000")
    assert len(every.json) == 24 and every.headers["X-Supervise-More"] == "false"


def test_kpi_page_out_of_range(officer):
    response = dash_call(
        officer,
        [("kpi-content", "children"), ("kpi-pdf", "href")],
        [
            ("kpi-range", "start_date", "0001-01-01"),
            ("kpi-range", "end_date", "2026-11-30"),
            ("kpi-scope", "value", None),
        ],
    )
    assert response.status_code == 200
    assert "统计期间无效" in json.dumps(response.json, ensure_ascii=False)


def test_alarm_ids_beyond_any_row(officer):
    for alarm_id in (2**70, -1, 0, True, "1"):
        alarm_id_beyond_any_row(officer, alarm_id)


def alarm_id_beyond_any_row(officer, alarm_id):
    detail = dash_call(
        officer,
        [("control-room-detail", "children")],
        [("control-room-selected", "data", alarm_id), ("control-room-acted", "data", 0)],
    )
    assert detail.status_code in (200, 204)
    act = dash_call(
        officer,
        [("control-room-result", "children"), ("control-room-note", "value"), ("control-room-acted", "data")],
        [
            ("control-room-ack", "n_clicks", 1),
            ("control-room-urge", "n_clicks", 0),
            ("control-room-close", "n_clicks", 0),
        ],
        state=[
            ("control-room-selected", "data", alarm_id),
            ("control-room-note", "value", "x"),
            ("control-room-acted", "data", 0),
        ],
    )
    assert act.status_code == 200 and "无权查看" in json.dumps(act.json, ensure_ascii=False)


def test_kiosk_rotation_is_bounded(officer):
    response = dash_call(
        officer,
        [("shell-page", "children"), ("shell-root", "className")],
        [("shell-url", "pathname", "/"), ("shell-url", "search", f"?kiosk&seconds={HUGE}")],
    )
    assert '"interval": 3600000' in json.dumps(response.json)
