"""Main journeys in a real headless browser (Debian's chromium, driven by Playwright).

Each test serves the app with waitress from a thread of the test process, on a
clock the test controls. In CI (CI=true) a missing chromium fails; locally it skips loudly.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from app.base.settings import Settings
from app.base.tables import alarm_actions, alarms, audit_log
from tests.web.conftest import NOW, PASSWORD, make_region, wait_in_page

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


class MovableClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def serve(region, clock):
    import threading

    from waitress.server import create_server

    from app.web import create_app

    app = create_app(region.settings, clock, engine=region.engine, background=False)
    server = create_server(app, host="127.0.0.1", port=0, threads=16)
    threading.Thread(target=server.run, daemon=True, name="test.waitress").start()
    return server, f"http://127.0.0.1:{server.effective_port}"


@pytest.fixture
def site(region):
    clock = MovableClock(NOW)
    server, url = serve(region, clock)
    yield region, url, clock
    server.close()


@pytest.fixture
def pg_site(pg_url, redis_url, tmp_path):
    """The production shape: PostgreSQL and a real Redis."""
    (tmp_path / "var").mkdir()
    settings = Settings(var_dir=tmp_path / "var", db_url=pg_url, redis_url=redis_url)
    region = make_region(settings)
    clock = MovableClock(NOW)
    server, url = serve(region, clock)
    yield region, url, clock
    server.close()
    region.engine.dispose()


def log_in(browser, url: str, name: str, password: str = PASSWORD, path: str = "/"):
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.goto(f"{url}/login?next={path}")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-submit")
    return page


def rows(page) -> list[int]:
    return [
        int(x)
        for x in page.eval_on_selector_all("#control-room-grid [data-alarm]", "els => els.map(e => e.dataset.alarm)")
    ]


def test_wrong_password_is_refused(site, browser):
    region, url, _ = site
    page = log_in(browser, url, region.users["region"], "not the password")
    assert page.locator("#login-error").is_visible()
    assert "/login" in page.url


def test_control_room_journey(pg_site, browser, tmp_path):
    """Log in, see a new alarm arrive without reload or flicker, acknowledge it, open its case, export the PDF."""
    from app.base import outbox
    from app.base.alarm_stream import AlarmChange
    from app.base.messaging import connect

    region, url, clock = pg_site
    page = log_in(browser, url, region.users["region"])
    page.wait_for_selector("#control-room-grid [data-alarm]")
    before = rows(page)
    assert len(before) == 24
    # Tag a row that is already drawn: if the board re-rendered, the tag would be gone.
    page.eval_on_selector(f'[data-alarm="{before[-1]}"]', "el => { el.__kept = true; }")

    dept = "GX-450102:MZ"
    alarm_id = region.add_alarm(
        dept, "statutory_overdue", "alarm", case_no=region.case_nos[dept][1], fired_at=NOW + timedelta(seconds=30)
    )
    with region.engine.begin() as conn:
        outbox.write(
            conn,
            [
                AlarmChange(
                    alarm_id=alarm_id,
                    action="fired",
                    actor="system",
                    kind="statutory_overdue",
                    level="alarm",
                    state="open",
                    center_id="GX-450102",
                    dept_id=dept,
                    fired_at=NOW,
                    at=NOW,
                )
            ],
        )
    outbox.Relay(region.engine, connect(region.settings)).drain()
    started = time.monotonic()
    page.wait_for_selector(f'#control-room-grid [data-alarm="{alarm_id}"]', timeout=2500)
    assert time.monotonic() - started <= 2.0, "a new alarm must appear within 2 s"
    assert rows(page)[0] == alarm_id  # newest first
    assert page.eval_on_selector(f'[data-alarm="{before[-1]}"]', "el => el.__kept === true"), "board was re-rendered"
    assert "fresh" in page.get_attribute(f'[data-alarm="{alarm_id}"]', "class")
    wait_in_page(page, "window.superviseAlerts >= 1", 2)  # sound + flash for a new red
    assert "报警 13" in page.inner_text("#control-room-counts")

    page.click(f'[data-alarm="{alarm_id}"] .cell-kind')
    page.wait_for_selector(f"#control-room-detail-title:has-text('#{alarm_id}')")
    page.click("#control-room-ack")
    page.wait_for_selector("#control-room-result:has-text('请填写处理意见')", timeout=3000)
    page.fill("#control-room-note", "已电话联系窗口负责人")
    page.click("#control-room-ack")
    page.wait_for_selector(f"#control-room-result:has-text('已确认报警 {alarm_id}')", timeout=3000)
    page.wait_for_selector(f'[data-alarm="{alarm_id}"].state-acknowledged', timeout=2500)
    with region.engine.connect() as conn:
        assert conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar_one() == "acknowledged"
        action = (
            conn.execute(
                select(alarm_actions).where(alarm_actions.c.alarm_id == alarm_id, alarm_actions.c.action == "ack")
            )
            .mappings()
            .one()
        )
        assert (action["actor"], action["note"]) == (region.users["region"], "已电话联系窗口负责人")
        assert conn.execute(select(audit_log.c.id).where(audit_log.c.action == "alarm_ack")).first()

    page.click("#control-room-case-link")
    page.wait_for_selector("#case-facts")
    case_no = region.case_nos[dept][1]
    assert case_no in page.inner_text("h2")
    page.wait_for_selector("#case-timeline .main-svg")
    live = page.locator("#case-live-video")
    assert live.get_attribute("data-camera") == f"{dept}:CAM"
    # The live window shows a picture at once: the latest still (no camera answers here).
    wait_in_page(page, "document.querySelector('#case-live-video img').naturalWidth > 0", 9)
    assert "已超期" in page.inner_text("#case-clocks")

    href = page.get_attribute("#case-pdf", "href")
    response = page.request.get(url + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "case.pdf"
    pdf.write_bytes(response.body())
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"办件档案 {case_no}" in text and "承诺时限" in text and "已电话联系窗口负责人" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"WenQuanYiMicroHei.*TrueType.*yes\s+yes", fonts)


def test_escalation_and_filters(site, browser):
    region, url, clock = site
    page = log_in(browser, url, region.users["city"])
    page.wait_for_selector("#control-room-grid [data-alarm]")
    city_alarms = sum(
        (region.alarm_ids[d] for d in region.alarm_ids if d.startswith(("GX-450100", "GX-450102", "GX-450103"))), []
    )
    assert sorted(rows(page)) == sorted(city_alarms)
    warnings = [a for a in rows(page) if "level-warning" in page.get_attribute(f'[data-alarm="{a}"]', "class")]
    assert not any("escalated" in page.get_attribute(f'[data-alarm="{a}"]', "class") for a in warnings)
    clock.now = NOW + timedelta(minutes=40)  # warnings fired 5 min before NOW: now unacknowledged for 45 min
    page.wait_for_selector(f'[data-alarm="{warnings[0]}"].escalated', timeout=3000)
    page.goto(url + "/?level=alarm")  # the level filter, as the overview's click-through sets it
    wait_in_page(
        page,
        f"document.querySelectorAll('#control-room-grid [data-alarm]').length == {len(city_alarms) - len(warnings)}",
        3,
    )


def test_video_wall_sixteen_tiles(site, browser):
    from app.base import exchange as x
    from app.base.exchange import exchange_engine

    region, url, _ = site
    engine = exchange_engine(region.settings.exchange_url_resolved)
    with engine.begin() as conn:  # 12 cameras in the region; add 8 more on the same windows
        for n, window in enumerate(["GX-450102:MZ:W1", "GX-450102:SC:W1", "GX-450100:MZ:W1", "GX-450200:SC:W1"] * 2):
            conn.execute(
                insert(x.cameras).values(
                    camera_id=f"EXTRA{n}", window_id=window, url="rtsp://u:p@127.0.0.1:9/", enabled=True
                )
            )
    page = log_in(browser, url, region.users["region"], path="/wall")
    live_requests = []
    page.on("request", lambda r: live_requests.append(r.url) if "/video/" in r.url and "/live." in r.url else None)
    page.wait_for_selector(".wall-tile")
    assert page.locator(".wall-tile").count() == 16
    wait_in_page(page, "Array.from(document.querySelectorAll('.wall-tile img')).every(i => i.naturalWidth > 0)", 8)
    first_src = page.get_attribute(".wall-tile >> nth=3 >> img", "src")
    wait_in_page(page, f"document.querySelectorAll('.wall-tile img')[3].src !== {first_src!r}", 8)
    page.click(".wall-tile >> nth=5")
    page.wait_for_selector(".wall-tile.wall-focus .wall-live", timeout=3000)
    page.click(".wall-tile >> nth=6")
    page.wait_for_timeout(500)
    assert page.locator(".wall-live").count() == 1  # one live stream at a time
    assert len({u.split("/video/")[1].split("/")[0] for u in live_requests}) == 2


def test_kiosk_is_dark_chromeless_and_rotates(site, browser):
    region, url, _ = site
    page = log_in(browser, url, region.users["region"], path="/%3Fkiosk%26seconds%3D5")
    page.wait_for_selector("#kiosk-view-board.active #control-room-grid [data-alarm]")
    assert not page.locator("#shell-header").is_visible()
    background = page.evaluate("getComputedStyle(document.querySelector('.kiosk')).backgroundColor")
    assert background == "rgb(11, 17, 24)"
    page.wait_for_selector("#kiosk-view-overview.active", timeout=8000)


def test_english_switch(site, browser):
    region, url, _ = site
    page = log_in(browser, url, region.users["center"])
    page.wait_for_selector("#control-room-grid [data-alarm]")
    page.click("#shell-language")
    page.wait_for_selector("#shell-nav-control-room:has-text('Control room')")
    page.wait_for_selector("#control-room-counts:has-text('Alarms')", timeout=5000)


# Every page of the dashboard, with what must be drawn on it (plotly charts included).
PAGES = [
    ("/", "#control-room-grid [data-alarm]"),
    ("/overview", "#overview-tree .main-svg"),
    ("/case", "#case-search-input"),
    ("/case/{case_no}", "#case-timeline .main-svg"),
    ("/kpi", "#kpi-content .main-svg"),
    ("/wall", ".wall-tile"),
    ("/?kiosk", "#kiosk"),
]
WATCH_CSP = (
    "window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
    "e => window.cspViolations.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' ')))"
)


def test_every_page_works_under_the_content_security_policy(site, browser):
    """Scripts only from the server or by hash, no eval: the pages draw, and Chromium reports no violation."""
    region, url, _ = site
    case_no = region.case_nos["GX-450102:MZ"][0]
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.add_init_script(WATCH_CSP)
    page.goto(f"{url}/login")
    assert page.evaluate("window.cspViolations") == []
    response = page.context.request.get(f"{url}/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.fill("#login-name", region.users["region"])
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    for path, drawn in PAGES:
        page.goto(url + path.format(case_no=case_no))
        page.wait_for_selector(drawn, timeout=15000)
        assert page.evaluate("window.cspViolations") == [], path
    page.goto(url + "/")
    page.click("#shell-logout")  # a form posting the CSRF token
    page.wait_for_url(f"{url}/login")
    page.goto(url + "/")
    assert "/login" in page.url  # the session is over
    assert page.evaluate("window.cspViolations") == []
