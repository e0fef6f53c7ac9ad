"""The live view of hall cameras in a real Chromium: an H.265-only camera plays (as H.265 where MSE says it
plays HEVC, else through one H.264 transcode), past the transcode cap MJPEG with a visible note, an H.265 main
with an H.264 substream plays the substream, a G.711 track never breaks video, and a codec no browser plays or
a server that does not answer falls back to MJPEG without waiting for a megabyte of stream."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from flask import Flask, send_from_directory

from app.headers import content_security_policy
from tests.video.conftest import USER, free_port, wait_until
from tests.video.test_hall_cameras import HALL_PASSWORD
from tests.web.conftest import wait_in_page
from video import thumbnails
from video.cameras import Camera
from video.live import LiveFeed
from video.routes import create_blueprint
from video.transcode import Transcodes

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[2] / "assets"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _page(*camera_ids: str) -> str:
    players = "".join(
        f'<div class="live-player" id="{c}" data-camera="{c}" style="width:640px;height:360px">'
        '<img class="live-still" alt=""></div>'
        for c in camera_ids
    )
    return f'<!doctype html><html><body>{players}<script src="/assets/live.js"></script></body></html>'


def _serve(live, redis, page: str, transcodes: Transcodes) -> tuple[str, object]:
    from waitress.server import create_server

    app = Flask("live-hall-test")
    app.register_blueprint(create_blueprint(redis=redis, live=live, transcodes=transcodes))
    app.add_url_rule("/", "page", lambda: page)
    app.add_url_rule("/assets/<path:name>", "assets", lambda name: send_from_directory(ASSETS, name))
    app.after_request(
        lambda response: (
            response.headers.update({"Content-Security-Policy": content_security_policy([], "'none'")}) or response
        )
    )
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=12)
    threading.Thread(target=server.run, name="test.web", daemon=True).start()
    return f"http://127.0.0.1:{port}/", server


def _playing(page, player: str) -> dict:
    return page.evaluate(f"""() => {{ const p = document.getElementById('{player}'), v = p.querySelector('video');
        return {{mode: p.dataset.mode, live: p.dataset.live, codec: p.dataset.codec, t: v ? v.currentTime : null,
                 w: v ? v.videoWidth : null, h: v ? v.videoHeight : null}}; }}""")


def test_h265_camera_plays_through_one_shared_transcode_and_a_substream_passes_through(
    rtsp_server, pools, redis_client, chromium_path
):
    from playwright.sync_api import sync_playwright

    only_h265 = rtsp_server(
        cameras=2, codec="h265", auth="digest", audio="pcma", user=USER, password=HALL_PASSWORD, size="640x360", fps=10
    )
    substream = rtsp_server(size="320x180", fps=10)
    pool = pools(
        [
            Camera("H1", "W1", only_h265.url("cam1", raw=True)),
            Camera("H2", "W2", only_h265.url("cam2", raw=True)),
            Camera("HS", "W3", only_h265.url("cam1", raw=True), substream_url=substream.url("cam1")),
        ]
    )
    for camera_id in ("H1", "H2", "HS"):
        assert wait_until(lambda: thumbnails.latest(redis_client, camera_id), 20), camera_id
    transcodes = Transcodes(1)
    url, server = _serve(pool, redis_client, _page("H1", "HS"), transcodes)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            page = browser.new_page()
            page.goto(url)
            plays_hevc = page.evaluate("MediaSource.isTypeSupported('video/mp4; codecs=\"hvc1.1.6.L93.B0\"')")
            wait_in_page(page, "document.getElementById('H1').dataset.mode === 'mse'", 20.0)
            wait_in_page(page, "document.getElementById('HS').dataset.mode === 'mse'", 20.0)
            first = _playing(page, "H1")
            time.sleep(2)
            h1, hs = _playing(page, "H1"), _playing(page, "HS")
            assert (h1["codec"], h1["w"], h1["h"]) == ("hevc", 640, 360)
            assert h1["live"] == ("passthrough" if plays_hevc else "transcode")
            assert h1["t"] > first["t"]  # it plays
            # The substream (H.264) passes through; the H.265 main is never pulled for it.
            assert (hs["codec"], hs["live"], hs["w"], hs["h"]) == ("h264", "passthrough", 320, 180)
            if not plays_hevc:
                assert transcodes.running == 1
                # One transcode serves every viewer of the camera: a second page on H1 shares it.
                second = browser.new_page()
                second.goto(url)
                wait_in_page(second, "document.getElementById('H1').dataset.mode === 'mse'", 20.0)
                assert transcodes.running == 1
            browser.close()
    finally:
        server.close()


def test_past_the_transcode_cap_mjpeg_with_a_visible_note(rtsp_server, pools, redis_client, chromium_path):
    from playwright.sync_api import sync_playwright

    only_h265 = rtsp_server(cameras=2, codec="h265", size="640x360", fps=10)
    pool = pools([Camera("H1", "W1", only_h265.url("cam1")), Camera("H2", "W2", only_h265.url("cam2"))])
    for camera_id in ("H1", "H2"):
        assert wait_until(lambda: thumbnails.latest(redis_client, camera_id), 20), camera_id
    transcodes = Transcodes(1)
    url, server = _serve(pool, redis_client, _page("H1", "H2"), transcodes)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            page = browser.new_page()
            if page.evaluate("MediaSource.isTypeSupported('video/mp4; codecs=\"hvc1.1.6.L93.B0\"')"):
                pytest.skip("this Chromium plays HEVC itself: nothing to transcode")
            page.goto(url)
            wait_in_page(page, "['H1', 'H2'].every(id => document.getElementById(id).dataset.mode)", 20.0)
            modes = {c: _playing(page, c)["mode"] for c in ("H1", "H2")}
            assert sorted(modes.values()) == ["mjpeg", "mse"], modes
            capped = next(c for c, mode in modes.items() if mode == "mjpeg")
            note = page.evaluate(f"""() => {{ const n = document.querySelector('#{capped} .live-note');
                return n && {{text: n.textContent, shown: n.offsetWidth > 0 && n.offsetHeight > 0}}; }}""")
            assert note and note["shown"] and "转码名额已满" in note["text"], note
            wait_in_page(page, f"document.querySelector('#{capped} img.live-mjpeg').naturalWidth === 640", 15.0)
            assert transcodes.running == 1
            browser.close()
    finally:
        server.close()


class _Source:
    """Live feeds the test server cannot send: a codec no browser plays, a server that does not answer."""

    def __init__(self) -> None:
        self.odd = LiveFeed("ODD")
        self.odd.connected("mpeg4")
        self.slow = LiveFeed("SLOW")

    def live_feed(self, camera_id: str):
        if camera_id == "SLOW":
            time.sleep(3)  # a web server stuck behind something: the page must not wait on it
        return {"ODD": self.odd, "SLOW": self.slow}.get(camera_id)


def test_mjpeg_instead_at_once_for_a_codec_no_browser_plays_or_no_answer(redis_client, chromium_path):
    from playwright.sync_api import sync_playwright

    url, server = _serve(_Source(), redis_client, _page("ODD", "SLOW"), Transcodes(1))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
            page = browser.new_page()
            page.goto(url)
            wait_in_page(page, "['ODD', 'SLOW'].every(id => document.getElementById(id).dataset.mode === 'mjpeg')", 5.0)
            errors = page.evaluate("['ODD', 'SLOW'].map(id => document.getElementById(id).dataset.error)")
            assert errors == ["Error: codec mpeg4", "no answer within 1 s"]
            browser.close()
    finally:
        server.close()
