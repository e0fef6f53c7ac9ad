"""The dashboard's plain functions and routes, without a browser: scopes, the board's
row diff, escalation at its boundary, the catalogue, login and sessions, SSO, KPIs, PDFs, health."""

from __future__ import annotations

import ast
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.base.tables import audit_log, cases, users
from app.callbacks.control_room import diff_rows
from app.queries.alarms import is_escalated
from app.queries.reference import read_reference
from app.scope import scope_for
from tests.web.conftest import NOW, PASSWORD, form_token, login

ROOT = Path(__file__).resolve().parents[2]


# --- scopes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, scope_id, center, dept, allowed",
    [
        ("region", "GX-450000", "GX-450202", "GX-450202:SC", True),  # region sees everything
        ("region", "GX-450000", None, None, True),  # ... even places without a center
        ("city", "GX-450100", "GX-450100", "GX-450100:MZ", True),  # its own city center
        ("city", "GX-450100", "GX-450103", "GX-450103:SC", True),  # a county below it
        ("city", "GX-450100", "GX-450202", "GX-450202:SC", False),  # a county of another city
        ("city", "GX-450100", "GX-450000", "GX-450000:MZ", False),  # the region center above it
        ("center", "GX-450102", "GX-450102", "GX-450102:SC", True),
        ("center", "GX-450102", "GX-450103", "GX-450103:SC", False),  # a sibling county
        ("department", "GX-450102:MZ", "GX-450102", "GX-450102:MZ", True),
        ("department", "GX-450102:MZ", "GX-450102", "GX-450102:SC", False),  # same center, other department
        ("department", "nope", "GX-450102", "GX-450102:MZ", False),  # an unknown scope id sees nothing
        ("auditor", "GX-450000", "GX-450102", "GX-450102:MZ", False),  # an unknown role sees nothing
    ],
)
def test_scope_allows(region, role, scope_id, center, dept, allowed):
    reference = read_reference(_exchange(region))
    assert scope_for(role, scope_id, reference).allows(center, dept) is allowed


def _exchange(region):
    from app.base.exchange import exchange_engine

    return exchange_engine(region.settings.exchange_url_resolved)


# --- the board ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shown, desired, deletes, inserts",
    [
        ([], [(3, "a"), (2, "a")], [], [(0, 3), (1, 2)]),  # first rows
        ([[2, "a"], [1, "a"]], [(3, "a"), (2, "a"), (1, "a")], [], [(0, 3)]),  # a new alarm on top: one insert
        ([[3, "a"], [2, "a"], [1, "a"]], [(3, "a"), (1, "a")], [1], []),  # closed: one delete
        ([[3, "a"], [2, "a"], [1, "a"]], [(3, "a"), (2, "b"), (1, "a")], [1], [(1, 2)]),  # changed: replaced in place
        ([[3, "a"], [2, "a"]], [(3, "a"), (2, "a")], [], []),  # nothing changed: nothing sent
        ([[3, "a"], [2, "a"], [1, "a"]], [], [2, 1, 0], []),  # all gone, highest index first
    ],
)
def test_diff_rows(shown, desired, deletes, inserts):
    diff = diff_rows(shown, desired)
    assert (diff.deletes, diff.inserts) == (deletes, inserts)
    # Applying the ops to the shown ids gives the desired order.
    ids = [i for i, _ in shown]
    for index in diff.deletes:
        del ids[index]
    for index, alarm_id in diff.inserts:
        ids.insert(index, alarm_id)
    assert ids == [i for i, _ in desired]


@pytest.mark.parametrize(
    "state, age_minutes, expected",
    [
        ("open", 29, False),
        ("open", 30, True),  # the boundary instant escalates
        ("acknowledged", 300, False),  # an acknowledged alarm never escalates
    ],
)
def test_escalation_boundary(state, age_minutes, expected):
    row = {"state": state, "fired_at": NOW - timedelta(minutes=age_minutes)}
    assert is_escalated(row, NOW, timedelta(minutes=30)) is expected


# --- the catalogue --------------------------------------------------------------------------------


def test_every_catalogue_key_used_in_code_exists():
    from app.catalogue import STRINGS

    used = set()
    for path in list((ROOT / "app").rglob("*.py")) + list((ROOT / "layouts").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    assert used, "no t() calls found"
    assert sorted(used - set(STRINGS)) == []
    assert all(zh.strip() and en.strip() for zh, en in STRINGS.values())


# --- logging in ----------------------------------------------------------------------------------


def test_passwords_are_argon2_hashes(region):
    with region.engine.connect() as conn:
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_login_survives_a_server_restart(region):
    """Sessions are signed cookies with a key in the database: a second server (or a restarted one) accepts them."""
    from app.web import create_app

    first = create_app(region.settings, lambda: NOW, engine=region.engine, background=False)
    client = login(first.test_client(), region.users["center"])
    cookie = client.get_cookie("session")
    second = create_app(region.settings, lambda: NOW, engine=region.engine, background=False)
    other = second.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/api/alarms").status_code == 200
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_password_change_ends_old_sessions(web_app, region):
    from app.users import add_user

    client = login(web_app.test_client(), region.users["center"])
    add_user(region.engine, region.users["center"], "a new password 2", "center", "GX-450102", NOW)
    assert client.get("/api/alarms").status_code == 401  # at once: the session's row is gone


def test_wrong_password_and_audit(web_app, region):
    client = web_app.test_client()
    response = client.post(
        "/login",
        data={"name": region.users["region"], "password": "nope", "next": "/", "csrf_token": form_token(client)},
    )
    assert response.status_code == 401
    login(client, region.users["region"])
    with region.engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.id)).scalars().all()
    assert actions == ["login_failed", "login"]


def test_open_redirect_refused(web_app, region):
    client = web_app.test_client()
    response = client.post(
        "/login",
        data={
            "name": region.users["region"],
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": form_token(client),
        },
    )
    assert response.headers["Location"] == "/"


def test_sso_header_only_from_trusted_proxies(region, monkeypatch):
    from app.web import create_app

    settings = region.settings.model_copy(update={"sso_header": "X-Remote-User", "trusted_proxies": "10.0.0.0/8"})
    app = create_app(settings, lambda: NOW, engine=region.engine, background=False)
    client = app.test_client()
    header = {"X-Remote-User": region.users["region"]}
    assert client.get("/api/alarms", headers=header, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/api/alarms", headers=header, environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 401
    unknown = {"X-Remote-User": "nobody"}
    assert client.get("/api/alarms", headers=unknown, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 401


def test_user_add_command(region, monkeypatch):
    from click.testing import CliRunner

    from app.auth import find_user, verify_password
    from app.users import user_command

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(region.settings.var_dir))
    result = CliRunner().invoke(
        user_command, ["add", "wang", "--role", "city", "--scope", "GX-450200"], input="secret password\n"
    )
    assert result.exit_code == 0, result.output
    user = find_user(region.engine, "wang")
    assert (user.role, user.scope_id) == ("city", "GX-450200") and verify_password(
        user.password_hash, "secret password"
    )
    bad = CliRunner().invoke(user_command, ["add", "li", "--role", "city", "--scope", "X"], input="short\n")
    assert bad.exit_code != 0 and "8 characters" in bad.output


def test_ensure_demo_user(region):
    from app.auth import find_user, verify_password
    from app.users import ensure_demo_user

    name, password = ensure_demo_user(region.engine, "GX-450000")
    user = find_user(region.engine, name)
    assert user.role == "region" and verify_password(user.password_hash, password)


# --- KPIs ------------------------------------------------------------------------------------------


def test_kpi_preaggregation_matches_the_cases(region):
    from app.kpi.aggregate import refresh
    from app.kpi.report import compute_report

    reference = read_reference(_exchange(region))
    zone = region.settings.zone
    assert refresh(region.engine, zone, NOW) > 0
    scope = scope_for("region", "GX-450000", reference)
    report = compute_report(region.engine, reference, scope, date(2026, 11, 1), date(2026, 11, 30), NOW, zone)
    totals = report.totals
    # 12 departments x 3 cases received; 1 completed each (MZ on time and early, SC late); 3 ratings each.
    assert (totals.received, totals.completed, totals.on_time, totals.early) == (36, 12, 6, 6)
    assert totals.on_time_rate == 50.0 and totals.avg_used == 5.5 and totals.avg_promised == 5.0
    assert (totals.ratings, totals.satisfied) == (36, 24)  # scores 100, 100, 60: 60 is below the 80 cut-off
    assert report.overdue_open == 24
    by_depth = {(r.depth, r.center_id): r.totals.completed for r in report.rollup}
    assert by_depth[(0, "GX-450000")] == 12 and by_depth[(1, "GX-450100")] == 6 and by_depth[(2, "GX-450103")] == 2
    assert report.rankings["dept"][0].totals.on_time_rate == 100.0
    # Incremental: a case completed later shows up after the next refresh, and a refresh with nothing new is cheap.
    later = NOW + timedelta(hours=1)
    with region.engine.begin() as conn:
        conn.execute(
            update(cases)
            .where(cases.c.case_no == region.case_nos["GX-450102:MZ"][0])
            .values(status="completed", completed_at=later, on_time=True, early=False, used_days=5, judged_at=later)
        )
    assert refresh(region.engine, zone, later) >= 1
    report = compute_report(region.engine, reference, scope, date(2026, 11, 1), date(2026, 11, 30), later, zone)
    assert (report.totals.completed, report.totals.on_time) == (13, 7)
    refresh(region.engine, zone, later)
    assert (
        compute_report(region.engine, reference, scope, date(2026, 11, 1), date(2026, 11, 30), later, zone).totals
        == report.totals
    )  # idempotent


# --- PDFs --------------------------------------------------------------------------------------------


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _fonts_embedded(path: Path) -> bool:
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    cjk = [line for line in lines if "WenQuanYi" in line]
    # Helvetica is referenced by reportlab's document skeleton but draws nothing; every other font is embedded.
    others = [line for line in lines if "WenQuanYi" not in line and not line.startswith("Helvetica ")]
    return bool(cjk) and all(re.search(r"\byes\s+yes\s+yes\b", line) for line in cjk) and not others


def test_export_commands(region, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.export import export_command

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(region.settings.var_dir))
    case_no = region.case_nos["GX-450102:MZ"][0]
    out = tmp_path / "case.pdf"
    result = CliRunner().invoke(export_command, ["case", case_no, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _pdf_text(out)
    assert f"办件档案 {case_no}" in text and "兴宁区政务服务中心" in text and "承诺时限" in text
    assert _fonts_embedded(out)
    kpi_out = tmp_path / "kpi.pdf"
    result = CliRunner().invoke(
        export_command,
        ["kpi", "--scope", "GX-450100", "--from", "2026-11-01", "--to", "2026-11-30", "-o", str(kpi_out)],
    )
    assert result.exit_code == 0, result.output
    text = _pdf_text(kpi_out)
    assert "效能指标报告" in text and "南宁市政务服务中心" in text and "按时办结率" in text and "50.0%" in text
    assert _fonts_embedded(kpi_out)
    images = subprocess.run(["pdfimages", "-list", str(kpi_out)], capture_output=True, text=True).stdout
    assert len(images.strip().splitlines()) == 2, "KPI charts must be vector drawings, not pictures"
    denied = CliRunner().invoke(
        export_command,
        [
            "case",
            region.case_nos["GX-450102:SC"][0],
            "-o",
            str(tmp_path / "x.pdf"),
            "--user",
            region.users["department"],
        ],
    )
    assert denied.exit_code != 0 and not (tmp_path / "x.pdf").exists()
    room = tmp_path / "room.pdf"
    assert CliRunner().invoke(export_command, ["control-room", "-o", str(room)]).exit_code == 0
    assert "监控大厅快照" in _pdf_text(room)


# --- health, metrics, banner ------------------------------------------------------------------------


def test_healthz_metrics_and_stale_banner(web_app, region):
    from app.callbacks.shell import banner_messages

    client = web_app.test_client()
    health = client.get("/healthz").json
    assert health["database"] and health["redis"] and health["stale"] is False  # judged a minute before NOW
    assert health["notifications"] == {"failed": 0, "queued": 0}  # none undeliverable
    services = web_app.extensions["supervise"]
    with web_app.test_request_context():
        assert banner_messages(services, "zh") == []
        services.clock = lambda: NOW + timedelta(hours=2)
        services.cache.clear()
        assert any("数据可能已过时" in m for m in banner_messages(services, "zh"))
        services.clock = lambda: NOW.replace(year=2031)
        services.cache.clear()
        assert any("2031" in m and "周一至周五" in m for m in banner_messages(services, "zh"))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "supervise_web_requests_total" in metrics and "supervise_ingest_rows_total" in metrics


@pytest.mark.parametrize(
    "start, end, spans, months",
    [
        # inside one month: days only
        (date(2026, 11, 3), date(2026, 11, 20), [(date(2026, 11, 3), date(2026, 11, 20))], []),
        # exactly one month: the monthly row alone
        (date(2026, 10, 1), date(2026, 10, 31), [], [date(2026, 10, 1)]),
        # a year that starts and ends mid-month: whole months plus the two ends in days
        (
            date(2025, 11, 28),
            date(2026, 11, 27),
            [(date(2025, 11, 28), date(2025, 11, 30)), (date(2026, 11, 1), date(2026, 11, 27))],
            [date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 11)],
        ),
        # February of a leap year ends on the 29th
        (date(2028, 2, 1), date(2028, 2, 29), [], [date(2028, 2, 1)]),
    ],
)
def test_split_range(start, end, spans, months):
    from app.kpi.report import split_range

    assert split_range(start, end) == (spans, months)


def test_monthly_and_daily_reads_agree(region):
    from app.kpi.aggregate import refresh
    from app.kpi.report import compute_report

    reference = read_reference(_exchange(region))
    zone = region.settings.zone
    refresh(region.engine, zone, NOW)
    scope = scope_for("city", "GX-450100", reference)
    # 2026-10-16 .. 2026-11-30: October's second half from days, November whole from its monthly row.
    mixed = compute_report(region.engine, reference, scope, date(2026, 10, 16), date(2026, 11, 30), NOW, zone)
    days_only = compute_report(region.engine, reference, scope, date(2026, 10, 16), date(2026, 11, 29), NOW, zone)
    assert mixed.totals == days_only.totals and mixed.totals.received == 18
    year = compute_report(region.engine, reference, scope, date(2025, 11, 28), date(2026, 11, 27), NOW, zone)
    assert year.trend_unit == "month" and year.totals.completed == 6


def test_board_reread_only_for_changes_in_scope(web_app, region, monkeypatch):
    """A change in another city costs a city's board one cheap check, not a new read; a change inside it re-reads."""
    from app.callbacks import control_room
    from app.queries import alarms as alarm_queries
    from app.queries.alarms import BoardFilters

    services = web_app.extensions["supervise"]
    reference = services.reference.get()
    nanning = scope_for("city", "GX-450100", reference)
    reads = []
    real_board = alarm_queries.board
    monkeypatch.setattr(alarm_queries, "board", lambda *a, **k: reads.append(a[1].scope_id) or real_board(*a, **k))

    def look():
        services.forget_board_marker()
        with web_app.test_request_context():
            marker = services.board_marker()
            return control_room.read_board(services, nanning, BoardFilters(), marker, 1, "zh")[1]

    first = look()
    assert reads == ["GX-450100"]
    region.add_alarm("GX-450202:SC", fired_at=NOW)  # Liuzhou: not Nanning's business
    assert look().rows == first.rows and reads == ["GX-450100"]
    new_id = region.add_alarm("GX-450103:MZ", fired_at=NOW)  # a Nanning county
    assert look().rows[0][0] == new_id and reads == ["GX-450100", "GX-450100"]


def test_the_board_marker_is_read_once_for_every_process_and_stays_fresh(region, monkeypatch):
    """A second web process takes the first one's marker from Redis instead of asking the database;
    a new alarm still moves it within MARKER_SECONDS."""
    import time

    from app import web
    from app.queries import alarms as alarm_queries

    first = web.create_app(region.settings, lambda: region.now, engine=region.engine, background=False)
    second = web.create_app(region.settings, lambda: region.now, engine=region.engine, background=False)
    reads = []
    real = alarm_queries.change_marker
    monkeypatch.setattr(alarm_queries, "change_marker", lambda engine: reads.append(1) or real(engine))
    a, b = first.extensions["supervise"], second.extensions["supervise"]
    a.forget_board_marker()
    marker = a.board_marker()
    assert b.board_marker() == marker and reads == [1]
    region.add_alarm("GX-450202:SC", fired_at=NOW)  # written straight to the database, not published
    time.sleep(web.MARKER_SECONDS)
    assert b.board_marker() != marker and reads == [1, 1]
    b.forget_board_marker()  # not ours to trust any more: the next look reads again
    b.board_marker()
    assert reads == [1, 1, 1]


def test_the_near_cache_keeps_only_entries_that_never_change():
    import fakeredis

    from app.near_cache import NearRedisCache

    server = fakeredis.FakeRedis()
    cache = NearRedisCache(host=server, key_prefix="t:")
    cache.set("board-reply:abc", {"rows": 1})
    cache.set("board-version:place", {"drawn": 1})
    server.flushdb()  # only this process's memory has them now
    assert cache.get("board-reply:abc") == {"rows": 1}
    assert cache.get("board-version:place") is None  # overwritten in place by other processes: always Redis


def test_anomaly_reasons_are_shown_in_words_in_both_languages():
    from app.i18n import subject_label
    from rules.alarms import ANOMALY_REASONS

    for code, chinese in ANOMALY_REASONS.items():
        assert subject_label("procedure_anomaly", code, "zh") == chinese  # the rules' own wording
        assert subject_label("procedure_anomaly", code, "en") not in ("", code)
    assert subject_label("step_overdue", "S1", "zh") == "S1"  # step ids and dates are shown as they are


def test_the_case_page_shows_the_applicants_phone_masked():
    from app.queries.cases import masked
    from app.queries.reference import Reference
    from layouts.case import facts_block

    row = {
        "item_code": "I",
        "status": "accepted",
        "center_id": None,
        "dept_id": None,
        "window_id": None,
        "staff_id": None,
        "applicant_phone": "13812341234",
        "received_at": None,
        "start_date": None,
        "deemed_accepted": False,
        "promise_due": None,
        "statutory_due": None,
        "completed_at": None,
        "used_days": None,
        "promised_days": 5,
        "paused_days": 0,
        "extension_days": 0,
        "on_time": None,
    }
    shown = str(facts_block(masked(row), Reference(), "zh", None))  # as app.queries.cases.case_page reads it
    assert "138****1234" in shown and "13812341234" not in shown


def test_board_reply_is_shared_within_a_scope_and_never_across_scopes(web_app, region, monkeypatch):
    """Sessions of one scope showing the same rows share one worked-out answer; another scope never gets it."""
    import json

    from app.callbacks import control_room
    from app.queries.alarms import BoardFilters

    services = web_app.extensions["supervise"]
    reference = services.reference.get()
    reads = []
    real_read = control_room.read_board
    monkeypatch.setattr(control_room, "read_board", lambda *a, **k: reads.append(a[1].key) or real_read(*a, **k))
    region_scope = scope_for("region", "GX-450000", reference)
    viewer = scope_for("department", "GX-450102:MZ", reference)
    with web_app.test_request_context():
        marker = services.board_marker()

        def ask(scope, filters=None, shown=None):
            return control_room.board_reply(
                services, scope, filters or BoardFilters(), "zh", marker, 1, None, shown, True
            )

        first = ask(region_scope)
        assert ask(region_scope) == first and reads == ["region:GX-450000"]  # the second session reuses the answer
        mine = ask(viewer)
        assert reads == ["region:GX-450000", "department:GX-450102:MZ"]  # same marker and screen, its own answer
        rows = [row for _, row in json.loads(mine.ops)["inserts"]]
        assert {r["id"] for r in rows} == set(region.alarm_ids["GX-450102:MZ"])
        # Filters joined with ':' could once spell another scope's key; the digest keeps them apart.
        assert control_room.board_place(
            scope_for("department", "A:B", reference), BoardFilters()
        ) != control_room.board_place(
            scope_for("department", "A", reference), BoardFilters("B", None, None, "None:None")
        )
        # A screen that already shows the board gets only the new marker.
        again = ask(viewer, shown=first.shown and mine.shown)
        assert again.ops is None


def test_a_board_being_drawn_is_not_drawn_again_by_the_sessions_that_ask_meanwhile(web_app, region, monkeypatch):
    from app.callbacks import control_room
    from app.queries import alarms as alarm_queries
    from app.queries.alarms import BoardFilters

    services = web_app.extensions["supervise"]
    scope = scope_for("region", "GX-450000", services.reference.get())
    reads = []
    real_board = alarm_queries.board
    monkeypatch.setattr(alarm_queries, "board", lambda *a, **k: reads.append(1) or real_board(*a, **k))
    with web_app.test_request_context():
        marker = services.board_marker()
        drawn_id = f"{control_room.board_place(scope, BoardFilters())}:{marker}:7"
        drawing = f"supervise:web:board-drawing:zh:{drawn_id}"
        services.redis.set(drawing, "1", ex=5)  # another server is drawing it right now
        with pytest.raises(control_room.BoardBusy):
            control_room.read_board(services, scope, BoardFilters(), marker, 7, "zh")
        assert reads == []
        services.redis.delete(drawing)  # it finished (or its claim expired)
        assert control_room.read_board(services, scope, BoardFilters(), marker, 7, "zh")[0] == drawn_id
        assert reads == [1] and not services.redis.exists(drawing)  # the claim is given back once drawn
