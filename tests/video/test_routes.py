"""The video routes over real HTTP: a browser-like client reads the live fMP4 and PyAV decodes it."""

from __future__ import annotations

import io
import threading
import time

import av
import pytest
import redis as redis_lib
import requests
from flask import Flask
from werkzeug.serving import make_server

from tests.video.conftest import FAST, free_port, wait_until
from tests.video.test_rtsp_workers import state_of
from video.cameras import Camera
from video.pool import CameraPool
from video.routes import OnDemandLive, create_blueprint

pytestmark = pytest.mark.slow


class Served:
    def __init__(self, app: Flask) -> None:
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="test.http", daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def web(redis_url):
    servers = []

    def serve(live, authorize=None) -> Served:
        app = Flask("test")
        client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
        app.register_blueprint(create_blueprint(redis=client, authorize=authorize, live=live, idle_timeout=5))
        served = Served(app)
        servers.append(served)
        return served

    yield serve
    for served in servers:
        served.close()


def read_stream(url: str, seconds: float) -> tuple[bytes, dict]:
    body = bytearray()
    with requests.get(url, stream=True, timeout=(5, 10)) as response:
        assert response.status_code == 200, response.status_code
        started = time.monotonic()
        for chunk in response.iter_content(chunk_size=None):
            body += chunk
            if time.monotonic() - started > seconds:
                break
        return bytes(body), response.headers


def decoded_frames(data: bytes) -> list:
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        return list(container.decode(video=0))


def test_snapshot_live_mp4_and_mjpeg_from_a_pool(rtsp_server, redis_url, web):
    server = rtsp_server()
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    pool = CameraPool(client, FAST)
    pool.sync([Camera("K1", "W1", server.url("cam1"))])
    try:
        served = web(pool, authorize=lambda camera_id: camera_id != "SECRET")
        assert wait_until(lambda: state_of(client, "K1", "online"), 15)
        assert wait_until(lambda: requests.get(served.url("/video/K1/snapshot.jpg"), timeout=5).status_code == 200, 5)

        snapshot = requests.get(served.url("/video/K1/snapshot.jpg"), timeout=5)
        assert snapshot.content[:2] == b"\xff\xd8" and snapshot.headers["X-Frame-Time"]
        assert "Last-Modified" in snapshot.headers

        # two viewers at once, the second joining late: both get playable streams from one pull
        results = {}
        late = threading.Thread(
            target=lambda: (time.sleep(1.5), results.update(late=read_stream(served.url("/video/K1/live.mp4"), 3)))
        )
        late.start()
        first, headers = read_stream(served.url("/video/K1/live.mp4"), 4)
        late.join(15)
        assert headers["Content-Type"] == "video/mp4"
        for data in (first, results["late"][0]):
            frames = decoded_frames(data)
            assert len(frames) >= 15 and frames[0].key_frame and (frames[0].width, frames[0].height) == (320, 240)
        assert results["late"][0] != first

        mjpeg, headers = read_stream(served.url("/video/K1/live.mjpeg"), 2.5)
        assert headers["Content-Type"].startswith("multipart/x-mixed-replace")
        assert mjpeg.count(b"Content-Type: image/jpeg") >= 2

        assert requests.get(served.url("/video/SECRET/snapshot.jpg"), timeout=5).status_code == 403
        missing = requests.get(served.url("/video/NOPE/snapshot.jpg"), timeout=5)
        assert missing.status_code == 404 and missing.content[:2] == b"\xff\xd8"
        assert requests.get(served.url("/video/NOPE/live.mp4"), timeout=5).status_code == 404
    finally:
        assert pool.stop() == []


def test_on_demand_live_pulls_only_while_watched(rtsp_server, web):
    server = rtsp_server()
    live = OnDemandLive(lambda: [Camera("K2", "W2", server.url("cam1"))], FAST, linger=0.5)
    try:
        served = web(live)
        data, _ = read_stream(served.url("/video/K2/live.mp4"), 3)
        assert len(decoded_frames(data)) >= 10
        assert wait_until(lambda: not live._workers, 10), "the pull did not end after its last viewer left"
        assert wait_until(lambda: not any(t.name == "video.capture:K2" for t in threading.enumerate()), 10)
    finally:
        live.stop()
