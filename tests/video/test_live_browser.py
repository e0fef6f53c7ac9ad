"""The live view in a real browser: the camera's H.264 passed through as
fragmented MP4 and played with Media Source Extensions (assets/live.js), the
latest still first, playback held near the live edge."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from flask import Flask, send_from_directory

from app.headers import content_security_policy
from tests.video.conftest import free_port, wait_until
from tests.web.conftest import wait_in_page
from video import thumbnails
from video.cameras import Camera
from video.routes import create_blueprint

pytestmark = pytest.mark.slow
ASSETS = Path(__file__).resolve().parents[2] / "assets"
PAGE = """<!doctype html><html><body>
<div class="live-player" id="live" data-camera="C-1" data-snapshot="/video/C-1/snapshot.jpg" style="width:640px;height:360px">
<img class="live-still" alt=""></div><script src="/assets/live.js"></script></body></html>"""


def _serve(pool, redis) -> tuple[str, object]:
    from waitress.server import create_server

    app = Flask("live-test")
    app.register_blueprint(create_blueprint(redis=redis, live=pool))
    app.add_url_rule("/", "page", lambda: PAGE)
    app.add_url_rule("/assets/<path:name>", "assets", lambda name: send_from_directory(ASSETS, name))
    # The dashboard's own Content-Security-Policy: live video must play under it (blob: media, no eval).
    app.after_request(
        lambda response: (
            response.headers.update({"Content-Security-Policy": content_security_policy([], "'none'")}) or response
        )
    )
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, name="test.web", daemon=True).start()
    return f"http://127.0.0.1:{port}/", server


def test_mse_plays_the_camera_live_within_a_second_of_the_edge(rtsp_server, pools, redis_client, chromium_path):
    from playwright.sync_api import sync_playwright

    camera = rtsp_server(size="640x360", fps=25, gop=25)
    pool = pools([Camera("C-1", "W-1", camera.url("cam1"))])
    assert wait_until(lambda: thumbnails.latest(redis_client, "C-1"), 20)
    url, server = _serve(pool, redis_client)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium_path,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page()
            page.add_init_script(
                "window.cspViolations = []; document.addEventListener('securitypolicyviolation',"
                " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI))"
            )
            page.goto(url)
            # The latest still from Redis shows first, while the stream is still being asked for.
            # (How fast is for a benchmark: under a loaded CI machine any bound in ms is noise.)
            wait_in_page(page, "document.querySelector('#live img.live-still').naturalWidth > 0", 5.0)
            assert page.evaluate("performance.getEntriesByType('resource').some(e => e.name.includes('snapshot.jpg'))")
            wait_in_page(page, "document.querySelector('#live').dataset.mode === 'mse'", 10.0)
            started = page.evaluate("document.querySelector('#live video').currentTime")
            time.sleep(3)
            playing = page.evaluate("""() => { const v = document.querySelector('#live video');
                return {t: v.currentTime, end: v.buffered.end(v.buffered.length - 1), w: v.videoWidth,
                        h: v.videoHeight, paused: v.paused}; }""")
            assert (playing["w"], playing["h"], playing["paused"]) == (640, 360, False)
            assert playing["t"] - started > 2.0  # it plays in real time
            assert playing["end"] - playing["t"] < 1.0  # held within a second of the newest frame
            assert page.evaluate("window.cspViolations") == []
            browser.close()
    finally:
        server.close()
