"""Role isolation: a department viewer asking for another department's case,
alarm, camera, evidence, KPI or PDF — by every route and every callback — is
refused, and the refusal is audited. Each refusal has a positive twin (the
viewer's own department) so no test passes by refusing everything."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from app.base.tables import alarms, audit_log, evidence
from tests.web.conftest import PASSWORD, dash_call, login

OWN, OTHER = "GX-450102:MZ", "GX-450102:SC"  # same center, different departments: the tight case


@pytest.fixture
def viewer(web_app, region):
    return login(web_app.test_client(), region.users["department"])


def evidence_id(region, dept):
    with region.engine.connect() as conn:
        return conn.execute(select(evidence.c.id).where(evidence.c.camera_id == f"{dept}:CAM")).scalar_one()


def denied_targets(region) -> set[str]:
    with region.engine.connect() as conn:
        return set(conn.execute(select(audit_log.c.target).where(audit_log.c.action == "denied")).scalars())


def text(response) -> str:
    """The callback's answer as readable text (Dash escapes non-ASCII in JSON)."""
    return json.dumps(response.json, ensure_ascii=False)


def page(viewer, path: str) -> str:
    response = dash_call(
        viewer,
        [("shell-page", "children"), ("shell-root", "className")],
        [("shell-url", "pathname", path), ("shell-url", "search", "")],
    )
    assert response.status_code == 200
    return text(response)


def test_case_page_callback(viewer, region):
    own, other = region.case_nos[OWN][0], region.case_nos[OTHER][0]
    assert "case-facts" in page(viewer, f"/case/{own}")
    body = page(viewer, f"/case/{other}")
    assert "case-not-found" in body and "case-facts" not in body and "市场监管局许可事项" not in body
    assert f"case:{other}" in denied_targets(region)


@pytest.mark.parametrize("query_text", ["{other}", "{other_prefix}", "市场监管局", "SC01", "0001"])
def test_case_search_callback(viewer, region, query_text):
    other = region.case_nos[OTHER][0]
    query = query_text.format(other=other, other_prefix=other[:-1])
    response = dash_call(
        viewer,
        [("case-search-results", "children")],
        [("case-search-button", "n_clicks", 1), ("case-search-input", "n_submit", 0)],
        state=[("case-search-input", "value", query)],
    )
    body = text(response)
    assert response.status_code == 200
    assert not any(no in body for no in region.case_nos[OTHER])


def test_case_search_finds_own(viewer, region):
    response = dash_call(
        viewer,
        [("case-search-results", "children")],
        [("case-search-button", "n_clicks", 1), ("case-search-input", "n_submit", 0)],
        state=[("case-search-input", "value", "0001")],
    )  # phone suffix
    assert region.case_nos[OWN][0] in text(response)


def test_api_case(viewer, region):
    assert viewer.get(f"/api/cases/{region.case_nos[OWN][0]}").status_code == 200
    assert viewer.get(f"/api/cases/{region.case_nos[OTHER][0]}").status_code == 404


def test_api_alarms_never_include_other_departments(viewer, region):
    for query in ("", "?state=all", f"?dept={OTHER}", f"?case={region.case_nos[OTHER][0]}", "?center=GX-450100"):
        rows = viewer.get("/api/alarms" + query).json
        assert all(r["dept_id"] == OWN for r in rows), query
    assert {r["dept_id"] for r in viewer.get("/api/alarms").json} == {OWN}


def test_api_basic_auth_same_scope(web_app, region):
    client = web_app.test_client()
    token = base64.b64encode(f"{region.users['department']}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    assert client.get(f"/api/cases/{region.case_nos[OTHER][0]}", headers=headers).status_code == 404
    assert client.get(f"/api/cases/{region.case_nos[OWN][0]}", headers=headers).status_code == 200
    bad = {"Authorization": "Basic " + base64.b64encode(b"department-user:wrong").decode()}
    assert client.get("/api/alarms", headers=bad).status_code == 401


def test_api_kpi_scope(viewer):
    assert viewer.get("/api/kpi").status_code == 200
    assert viewer.get(f"/api/kpi?scope={OTHER}").status_code == 403
    assert viewer.get("/api/kpi?scope=GX-450102").status_code == 403  # the center is wider than the department


def test_pdfs(viewer, region):
    assert viewer.get(f"/pdf/case/{region.case_nos[OWN][0]}.pdf").status_code == 200
    assert viewer.get(f"/pdf/case/{region.case_nos[OTHER][0]}.pdf").status_code == 404
    assert viewer.get(f"/pdf/kpi.pdf?scope={OTHER}").status_code == 403
    assert viewer.get("/pdf/kpi.pdf").status_code == 200
    assert f"case:{region.case_nos[OTHER][0]}" in denied_targets(region)


def test_control_room_pdf_holds_only_own_alarms(viewer, region, tmp_path):
    import subprocess

    response = viewer.get("/pdf/control-room.pdf")
    assert response.status_code == 200
    path = tmp_path / "cr.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert region.case_nos[OWN][0] in text
    assert not any(no in text for no in region.case_nos[OTHER])


@pytest.mark.parametrize("tail", ["snapshot.jpg", "live.mjpeg", "live.mp4"])
def test_video_routes(viewer, region, tail):
    assert viewer.get(f"/video/{OTHER}:CAM/{tail}").status_code == 403
    assert viewer.get(f"/video/no-such-camera/{tail}").status_code == 403
    assert f"camera:{OTHER}:CAM" in denied_targets(region)


def test_video_own_camera_allowed_and_audited(viewer, region):
    own = viewer.get(f"/video/{OWN}:CAM/snapshot.jpg")
    # 200 with the latest thumbnail, or 404 with a grey "no picture" when no camera worker runs in the test.
    assert own.status_code in (200, 404) and own.mimetype == "image/jpeg"
    with region.engine.connect() as conn:
        views = conn.execute(select(audit_log.c.target).where(audit_log.c.action == "view_video")).scalars().all()
    assert views == [f"camera:{OWN}:CAM"]
    viewer.get(f"/video/{OWN}:CAM/snapshot.jpg")  # the same viewer watching on: one line per 5 minutes
    with region.engine.connect() as conn:
        assert conn.execute(select(audit_log.c.id).where(audit_log.c.action == "view_video")).all().__len__() == 1


def test_evidence(viewer, region):
    assert viewer.get(f"/evidence/{evidence_id(region, OWN)}.jpg").status_code == 200
    assert viewer.get(f"/evidence/{evidence_id(region, OTHER)}.jpg").status_code == 404


def test_alarm_detail_callback(viewer, region):
    def detail(alarm_id):
        return dash_call(
            viewer,
            [("control-room-detail", "children")],
            [("control-room-selected", "data", alarm_id), ("control-room-acted", "data", 0)],
        )

    own, other = region.alarm_ids[OWN][0], region.alarm_ids[OTHER][0]
    assert region.case_nos[OWN][0] in text(detail(own))
    body = text(detail(other))
    assert (
        region.case_nos[OTHER][0] not in body
        and "无权查看" in json.loads(body)["response"]["control-room-detail"]["children"]
    )


@pytest.mark.parametrize("button", ["control-room-ack", "control-room-urge", "control-room-close"])
def test_action_callback_refused_outside_scope(viewer, region, button):
    other = region.alarm_ids[OTHER][0]
    inputs = [
        ("control-room-ack", "n_clicks", 1),
        ("control-room-urge", "n_clicks", 1),
        ("control-room-close", "n_clicks", 1),
    ]
    response = dash_call(
        viewer,
        [("control-room-result", "children"), ("control-room-note", "value"), ("control-room-acted", "data")],
        inputs,
        state=[
            ("control-room-selected", "data", other),
            ("control-room-note", "value", "试图越权"),
            ("control-room-acted", "data", 0),
        ],
        triggered=f"{button}.n_clicks",
    )
    assert response.status_code == 200
    with region.engine.connect() as conn:
        row = conn.execute(select(alarms).where(alarms.c.id == other)).mappings().one()
    assert row["state"] == "open" and row["urged_at"] is None
    assert f"alarm:{other}" in denied_targets(region)


def test_board_callback_ignores_filters_outside_scope(viewer, region):
    inputs = [
        ("control-room-poll", "n_intervals", 0),
        ("control-room-filter-center", "value", None),
        ("control-room-filter-dept", "value", OTHER),
        ("control-room-filter-kind", "value", None),
        ("control-room-filter-level", "value", None),
    ]
    outputs = [
        ("control-room-ops", "data"),
        ("control-room-shown", "data"),
        ("control-room-position", "data"),
        ("control-room-counts", "children"),
        ("control-room-new-red", "data"),
    ]
    state = [("control-room-shown", "data", None), ("control-room-position", "data", None)]
    shown = dash_call(viewer, outputs, inputs, state).json["response"]["control-room-shown"]["data"]
    assert shown == []
    inputs[2] = ("control-room-filter-dept", "value", None)
    shown = dash_call(viewer, outputs, inputs, state).json["response"]["control-room-shown"]["data"]
    assert sorted(i for i, _ in shown) == sorted(region.alarm_ids[OWN])


def test_kpi_callback(viewer):
    outputs = [("kpi-content", "children"), ("kpi-pdf", "href")]

    def ask(scope):
        return dash_call(
            viewer,
            outputs,
            [
                ("kpi-range", "start_date", "2026-11-01"),
                ("kpi-range", "end_date", "2026-11-30"),
                ("kpi-scope", "value", scope),
            ],
        )

    assert "kpi-card-on-time" in text(ask(OWN))
    body = text(ask(OTHER))
    assert (
        "kpi-card-on-time" not in body
        and "无权查看" in json.loads(body)["response"]["kpi-content"]["children"]["props"]["children"]
    )


def test_wall_callback(viewer):
    def tiles(cameras):
        return dash_call(viewer, [("wall-grid", "children")], [("wall-cameras", "value", cameras)]).json

    assert len(tiles([f"{OWN}:CAM"])["response"]["wall-grid"]["children"]) == 1
    assert tiles([f"{OTHER}:CAM", "GX-450100:MZ:CAM"])["response"]["wall-grid"]["children"] == []


def test_overview_callbacks(viewer):
    def click(center):
        return text(
            dash_call(
                viewer,
                [("overview-departments", "children")],
                [("overview-tree", "clickData", {"points": [{"id": center}]})],
            )
        )

    own_center = click("GX-450102")
    assert "民政局" in own_center and "市场监管局" not in own_center
    assert "民政局" not in click("GX-450100")
    tree = dash_call(
        viewer,
        [("overview-tree", "figure")],
        [("overview-poll", "n_intervals", 0)],
        state=[("overview-dark", "data", False)],
    ).json["response"]["overview-tree"]["figure"]
    assert tree["data"][0]["ids"] == ["GX-450102"]


def test_nothing_without_login(web_app, region):
    client = web_app.test_client()
    for path in (
        "/api/alarms",
        f"/api/cases/{region.case_nos[OWN][0]}",
        "/api/kpi",
        f"/video/{OWN}:CAM/snapshot.jpg",
        f"/pdf/case/{region.case_nos[OWN][0]}.pdf",
        f"/evidence/{evidence_id(region, OWN)}.jpg",
        "/_dash-layout",
    ):
        assert client.get(path).status_code == 401, path
    assert client.get("/").status_code == 302
    response = dash_call(
        client,
        [("shell-page", "children"), ("shell-root", "className")],
        [("shell-url", "pathname", "/"), ("shell-url", "search", "")],
    )
    assert response.status_code == 401


def test_case_search_link_is_scoped(viewer, region):
    body = page_with_query(viewer, "/case", "?q=0001")
    assert region.case_nos[OWN][0] in body
    assert not any(no in body for no in region.case_nos[OTHER])


def page_with_query(viewer, path: str, search: str) -> str:
    response = dash_call(
        viewer,
        [("shell-page", "children"), ("shell-root", "className")],
        [("shell-url", "pathname", path), ("shell-url", "search", search)],
    )
    assert response.status_code == 200
    return text(response)


def test_take_evidence_callback(web_app, region, monkeypatch):
    """An officer's evidence request: refused outside the scope, recorded for the case inside it.

    The officer is the center's (a department may not take evidence at all: tests/web/test_roles.py)."""
    import json as json_module

    from video import evidence as video_evidence

    officer = login(web_app.test_client(), region.users["center"])  # GX-450102
    folder = region.settings.var_dir / "evidence" / f"{OWN}:CAM" / "20261127T020000Z"
    folder.mkdir(parents=True)
    (folder / "still.jpg").write_bytes(
        (region.settings.var_dir / "evidence" / f"{region.case_nos[OWN][0]}.jpg").read_bytes()
    )
    (folder / "metadata.json").write_text(
        json_module.dumps({"frame_at": "2026-11-27T01:59:58+00:00", "still": {"file": "still.jpg"}, "keyframes": []})
    )
    asked = []

    def fake_request(redis, camera_id, requested_by, timeout):
        asked.append(camera_id)
        return video_evidence.EvidenceReply(
            request_id="r", camera_id=camera_id, ok=True, metadata_path=str(folder / "metadata.json")
        )

    monkeypatch.setattr(video_evidence, "request", fake_request)

    def take(case_no):
        return text(
            dash_call(
                officer,
                [("case-evidence-result", "children"), ("case-evidence-block", "children")],
                [("case-take-evidence", "n_clicks", 1)],
                state=[("case-no", "data", case_no)],
            )
        )

    assert "无权查看" in take(region.case_nos["GX-450103:MZ"][0]) and asked == []  # another center
    body = take(region.case_nos[OWN][1])
    assert "已取证" in body and asked == [f"{OWN}:CAM"]
    with region.engine.connect() as conn:
        row = conn.execute(select(evidence).where(evidence.c.case_no == region.case_nos[OWN][1])).mappings().one()
    assert row["path"] == f"evidence/{OWN}:CAM/20261127T020000Z/still.jpg" and row["requested_by"] == "center-user"
    assert officer.get(f"/evidence/{row['id']}.jpg").status_code == 200
