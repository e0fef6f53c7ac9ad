"""Hostile upstream text is only text (issue 10): names of 100 KB and more, markup in a center name, a
right-to-left override, and case numbers made of the characters URLs trip on, through every page, PDF,
the JSON API and the command line. The data is served whole; what is drawn is capped and neutralised.

The browser tests run Debian's chromium against the real server (see test_browser.py).
"""

from __future__ import annotations

import json
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from app import links
from app.base.display import CELL, ELLIPSIS, LABEL, TITLE, TOOLTIP, shown
from app.base.settings import Settings
from app.i18n import t
from tests.web.conftest import NOW, PASSWORD, dash_call, login, make_region, wait_in_page
from tests.web.hostile import (
    CASE_DEPT_ID,
    HOSTILE_CASE_NOS,
    LONG_CENTER,
    LONG_DEPT,
    LONG_DEPT_ID,
    LONG_ITEM,
    LONG_REASON,
    LONG_STAFF,
    LONG_WINDOW,
    RLO,
    make_hostile_region,
)

LONG_TEXTS = {
    "department": LONG_DEPT,
    "center": LONG_CENTER,
    "window": LONG_WINDOW,
    "item": LONG_ITEM,
    "staff": LONG_STAFF,
    "reason": LONG_REASON,
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    var = tmp_path_factory.mktemp("hostile") / "var"
    var.mkdir()
    region = make_hostile_region(Settings(var_dir=var))
    yield region
    region.engine.dispose()


@pytest.fixture(scope="module")
def client(hostile):
    from app.web import create_app

    app = create_app(hostile.settings, lambda: hostile.now, engine=hostile.engine, background=False)
    return login(app.test_client(), hostile.users["region"])


def pdf_text(body: bytes, tmp_path) -> str:
    path = tmp_path / "export.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def strings(node):
    """Every string inside a Dash response."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def assert_capped(text: str) -> None:
    """No long upstream text appears at length; each was cut with an ellipsis."""
    flat = text.replace("\n", "")
    for name, long in LONG_TEXTS.items():
        assert long[:300] not in flat, f"the {name} is drawn at length"
    assert ELLIPSIS in text


# --- PDFs -----------------------------------------------------------------------------------------

EXPORTS = {
    "case": lambda region: links.case_pdf(region.hostile_case),
    "control_room": lambda region: "/pdf/control-room.pdf",
    "kpi_region": lambda region: "/pdf/kpi.pdf?from=2026-11-01&to=2026-11-27&scope=GX-450000",
    "kpi_long_department": lambda region: f"/pdf/kpi.pdf?from=2026-11-01&to=2026-11-27&scope={LONG_DEPT_ID}",
}


@pytest.mark.parametrize("export", EXPORTS)
def test_every_pdf_export_caps_100_kb_names_and_reasons(export, hostile, client, tmp_path):
    started = time.monotonic()
    response = client.get(EXPORTS[export](hostile))
    assert response.status_code == 200 and response.mimetype == "application/pdf", response.status_code
    assert time.monotonic() - started < 30  # before: LayoutError (500) or 15 s for a KPI report
    text = pdf_text(response.data, tmp_path)
    assert_capped(text)
    assert b"/URI" not in response.data, "upstream markup became a link"
    if export in ("control_room", "kpi_region"):
        assert '<a href="https://evil.example/">' in text  # the center name, as text
    if export == "control_room":
        assert "[U+202E]" in text and RLO not in text


def test_cli_exports_cap_long_text(hostile, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.export import export_command

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(hostile.settings.var_dir))
    for args in (
        ["case", hostile.hostile_case],
        ["control-room"],
        ["kpi", "--scope", LONG_DEPT_ID, "--from", "2026-11-01", "--to", "2026-11-27"],
    ):
        out = tmp_path / f"{args[0]}.pdf"
        result = CliRunner().invoke(export_command, [*args, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert_capped(pdf_text(out.read_bytes(), tmp_path))


# --- pages, drawn on the server ---------------------------------------------------------------------


def test_board_rows_cap_neutralise_and_link(hostile):
    from app.base.exchange import exchange_engine
    from app.queries.alarms import BoardFilters, board, is_escalated
    from app.queries.reference import read_reference
    from app.scope import Scope
    from layouts.control_room import center_options, dept_options, row_view

    reference = read_reference(exchange_engine(hostile.settings.exchange_url_resolved))
    scope = Scope("region", "GX-450000", None)
    rows = board(hostile.engine, scope, BoardFilters(), NOW, NOW - NOW).rows
    views = [
        row_view(r, reference, "zh", hostile.settings.zone, is_escalated(r, NOW, NOW - NOW), NOW - NOW) for r in rows
    ]
    for view, row in zip(views, rows):
        assert all(len(text) <= CELL.chars for text in view["cells"].values())
        assert not any(RLO in text for text in view["cells"].values())
        assert view["case_href"] == links.case_page(row["case_no"])
    long_row = next(v for v, r in zip(views, rows) if r["dept_id"] == LONG_DEPT_ID)
    # Each name capped on its own: the long department does not hide the window after it.
    assert long_row["cells"]["place"] == f"兴宁区政务服务中心 / {shown(LONG_DEPT, LABEL)} / {shown(LONG_WINDOW, LABEL)}"
    assert long_row["titles"]["place"].endswith(f"{shown(LONG_DEPT, TOOLTIP)} / {shown(LONG_WINDOW, TOOLTIP)}")
    rtl_row = next(v for v, r in zip(views, rows) if r["case_no"] == HOSTILE_CASE_NOS["rtl"])
    assert rtl_row["cells"]["case"] == "4501-[U+202E]MZ-0909"
    for options in (center_options(reference, scope), dept_options(reference, scope, None)):
        assert all(len(o["label"]) <= 2 * 64 + 2 for o in options)  # a department's label names its center too


def test_treemap_labels_are_text(hostile):
    from app.base.exchange import exchange_engine
    from app.queries.reference import read_reference
    from app.scope import Scope
    from layouts.overview import tree_figure

    reference = read_reference(exchange_engine(hostile.settings.exchange_url_resolved))
    figure = tree_figure(reference, Scope("region", "GX-450000", None), {}, "zh")
    treemap = figure.data[0]
    for text in (*treemap.labels, *treemap.hovertext):
        assert "<a" not in text and text.count("<") == text.count("<br>")  # our own line break is the only markup
    assert any("&lt;a href" in label for label in treemap.labels)


@pytest.mark.parametrize("name", HOSTILE_CASE_NOS)
def test_any_case_number_opens_and_exports(name, hostile, client, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.export import export_command

    case_no = HOSTILE_CASE_NOS[name]
    page = urlsplit(links.case_page(case_no))  # as the browser sends it: the path still encoded
    response = dash_call(
        client,
        [("shell-page", "children"), ("shell-root", "className")],
        [("shell-url", "pathname", page.path), ("shell-url", "search", f"?{page.query}")],
    )
    assert response.status_code == 200
    drawn = set(strings(response.json))
    assert "case-facts" in drawn and t("case.title", "zh", case_no=shown(case_no, TITLE)) in drawn

    api = client.get(links.case_api(case_no))
    assert api.status_code == 200 and api.json["case_no"] == case_no  # the JSON keeps the value whole
    assert api.json["dept_id"] == CASE_DEPT_ID

    pdf = client.get(links.case_pdf(case_no))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "/" not in pdf.headers["Content-Disposition"].split("''", 1)[1]
    if case_no.isascii():
        assert shown(case_no, TITLE) in pdf_text(pdf.data, tmp_path)

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(hostile.settings.var_dir))
    out = tmp_path / "case.pdf"
    result = CliRunner().invoke(export_command, ["case", "-o", str(out), "--", case_no])
    assert result.exit_code == 0 and out.stat().st_size > 1000, result.output


def test_cli_prints_upstream_text_inert_and_whole(hostile, monkeypatch):
    from click.testing import CliRunner

    from ingest.command import alarms_command, case_command

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(hostile.settings.var_dir))
    case_no = HOSTILE_CASE_NOS["rtl"]
    result = CliRunner().invoke(case_command, [case_no, "--json"])
    assert result.exit_code == 0, result.output
    assert RLO not in result.output and json.loads(result.output)["case_no"] == case_no
    listed = CliRunner().invoke(alarms_command, ["--json", "--case", case_no])
    assert RLO not in listed.output and json.loads(listed.output.splitlines()[0])["case_no"] == case_no


# --- in the browser ---------------------------------------------------------------------------------


def _site(tmp_path, make):
    from tests.web.test_browser import MovableClock, serve

    (tmp_path / "var").mkdir(parents=True)
    region = make(Settings(var_dir=tmp_path / "var"))
    server, url = serve(region, MovableClock(NOW))
    return region, url, server


@pytest.fixture
def hostile_site(tmp_path):
    region, url, server = _site(tmp_path / "hostile", make_hostile_region)
    yield region, url
    server.close()
    region.engine.dispose()


@pytest.fixture
def plain_site(tmp_path):
    """The same region with its own names: the same run's baseline of how fast this machine draws a page."""
    from app.kpi.aggregate import refresh

    def plain(settings):
        region = make_region(settings)
        refresh(region.engine, settings.zone, region.now)
        region.hostile_case = region.case_nos[LONG_DEPT_ID][0]
        return region

    region, url, server = _site(tmp_path / "plain", plain)
    yield region, url
    server.close()
    region.engine.dispose()


def logged_in(browser, region, url):
    """A region officer's browser context, with every tab crash recorded."""
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    context.crashes = []
    context.on("page", lambda page: page.on("crash", lambda _: context.crashes.append(page.url)))
    page = context.new_page()
    page.goto(f"{url}/login?next=/case")
    page.fill("#login-name", region.users["region"])
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector(".case-search")
    return context


@pytest.fixture
def officer(hostile_site, browser):
    context = logged_in(browser, *hostile_site)
    yield context
    context.close()


RENDER_SECONDS = 3.0
# On a machine too busy to draw even the plain page within RENDER_SECONDS, the hostile one may take this much longer.
BUSY_MACHINE_RATIO = 1.5


def address(path: str, region) -> str:
    return links.case_page(region.hostile_case) if path == "case" else path


def render_seconds(page, url: str, ready: str) -> float:
    started = time.monotonic()
    page.goto(url)
    page.wait_for_selector(ready, timeout=20_000)
    return time.monotonic() - started


@pytest.mark.slow
def test_pages_render_with_100_kb_names(hostile_site, plain_site, officer, browser):
    """Before: a 100 KB department name hung /, /kpi and /wall for over a minute or crashed the tab (V8 OOM).

    Each page renders within RENDER_SECONDS, the best of three visits (after the first, Dash and plotly come
    from the browser's cache, as at a desk); visits to the same page with plain names, taken in turns, tell
    whether the machine itself is too busy for that.
    """
    region, url = hostile_site
    plain_region, plain_url = plain_site
    baseline = logged_in(browser, plain_region, plain_url)
    pages = {
        "/": "#control-room-grid [data-alarm]",
        "/kpi": "#kpi-rank-staff td",
        "/wall": ".wall-tile",
        "case": "#case-timeline .main-svg",
        "/overview": "#overview-tree .main-svg",
    }  # case: its long case
    page, plain_page = officer.new_page(), baseline.new_page()
    for path, ready in pages.items():
        times, plain_times = [], []
        for _ in range(3):
            plain_times.append(render_seconds(plain_page, plain_url + address(path, plain_region), ready))
            times.append(render_seconds(page, url + address(path, region), ready))
        print(
            f"{path}: rendered in {', '.join(f'{t:.2f}' for t in times)} s "  # shown with pytest -s
            f"(plain names: {', '.join(f'{t:.2f}' for t in plain_times)} s)"
        )
        assert min(times) <= max(RENDER_SECONDS, BUSY_MACHINE_RATIO * min(plain_times)), (
            f"{path} took {times} s, with plain names {plain_times} s"
        )
        assert page.evaluate("1 + 1") == 2, f"the tab died on {path}"
    assert not officer.crashes and not baseline.crashes
    baseline.close()

    # Capped text ends with "…"; the cell's hover keeps more of it.
    page.goto(url + "/")
    place = page.locator(f'#control-room-grid [data-alarm="{region.alarm_ids[LONG_DEPT_ID][0]}"] .cell-place')
    assert place.inner_text().endswith(ELLIPSIS) and len(place.get_attribute("title")) > len(place.inner_text())
    page.click("#control-room-filter-dept")  # the dropdown opens and lists the long department, capped
    page.wait_for_selector(f"text={shown(LONG_DEPT, CELL)[:20]}", timeout=5000)
    page.goto(url + links.case_page(region.hostile_case))  # the detail view holds the name at length
    page.wait_for_selector("#case-facts")
    assert len(page.inner_text("#case-facts")) > 10_000
    assert not officer.crashes


@pytest.mark.slow
def test_treemap_shows_markup_as_text(hostile_site, officer):
    _, url = hostile_site
    page = officer.new_page()
    page.goto(url + "/overview")
    page.wait_for_selector("#overview-tree .main-svg text.slicetext")
    wait_in_page(
        page,
        "Array.from(document.querySelectorAll('#overview-tree text')).some(t => t.textContent.includes('<a href='))",
        5,
    )
    assert page.locator("#overview-tree a").count() == 0, "the center name became a link"
    assert page.locator("#overview-tree [href*='evil'], #overview-tree [*|href*='evil']").count() == 0


@pytest.mark.slow
def test_board_shows_case_numbers_in_order_and_opens_every_one(hostile_site, officer):
    """Before: an RLO reversed a case number on the board; numbers with a space, quote, '/' or non-ASCII
    letters could not be opened from their links."""
    region, url = hostile_site
    page = officer.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#control-room-grid [data-alarm]")
    by_case = dict(region_alarms_by_case(region))
    # Each character of the RTL case number stands to the right of the one before it.
    link = f'[data-alarm="{by_case[HOSTILE_CASE_NOS["rtl"]]}"] a.case-no'
    positions = page.eval_on_selector(
        link,
        """a => {
        const text = a.firstChild, range = document.createRange(), xs = [];
        for (let i = 0; i < text.length; i++) { range.setStart(text, i); range.setEnd(text, i + 1);
                                                 xs.push(range.getBoundingClientRect().left); }
        return [text.data, xs]; }""",
    )
    assert positions[0] == "4501-[U+202E]MZ-0909"
    assert positions[1] == sorted(positions[1]), "the case number does not read left to right"
    for name, case_no in HOSTILE_CASE_NOS.items():
        page.click(f'[data-alarm="{by_case[case_no]}"] a.case-no')  # an in-page navigation, as an officer clicks
        page.wait_for_selector("#case-facts", timeout=5000)
        assert shown(case_no, TITLE) in page.inner_text("h2"), name
        href = page.get_attribute("#case-pdf", "href")
        assert page.request.get(url + href).headers["content-type"] == "application/pdf", name
        page.go_back()
        page.wait_for_selector(f'[data-alarm="{by_case[case_no]}"]')
    assert not officer.crashes


def region_alarms_by_case(region):
    from sqlalchemy import select

    from app.base.tables import alarms

    with region.engine.connect() as conn:
        return conn.execute(select(alarms.c.case_no, alarms.c.id).where(alarms.c.dept_id == CASE_DEPT_ID)).all()


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
