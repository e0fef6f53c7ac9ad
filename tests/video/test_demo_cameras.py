"""Demo cameras for `make demo`: real RTSP, a picture like a service window, shared scenes."""

from __future__ import annotations

import numpy as np
import pytest
import redis as redis_lib

from tests.conftest import _service_missing
from tests.video.conftest import FAST, SYSTEM_PYTHON, free_port, wait_until
from tests.video.test_rtsp_workers import state_of
from video import keyframes
from video.cameras import Camera
from video.demo_cameras import Scene, read_truth, start_demo_cameras
from video.pool import CameraPool

pytestmark = pytest.mark.slow


@pytest.fixture
def _cairo(_gstreamer):
    import subprocess

    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi, cairo; gi.require_version('Gst', '1.0');"
            "from gi.repository import Gst; Gst.init(None); assert Gst.ElementFactory.find('cairooverlay')",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode:
        _service_missing(
            "demo cameras (apt-get install python3-gi-cairo gstreamer1.0-plugins-good)",
            RuntimeError(probe.stderr.strip().splitlines()[-1:]),
        )


def test_demo_cameras_serve_every_path_from_few_scenes(_cairo, redis_url):
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    with start_demo_cameras(2, port=free_port()) as demo:
        assert demo.urls == [demo.url(1), demo.url(2)]
        # camera 7 has no scene of its own: it shares scene 1
        pool = CameraPool(client, FAST)
        pool.sync([Camera("D1", "W1", demo.url(1)), Camera("D2", "W2", demo.url(2)), Camera("D7", "W7", demo.url(7))])
        try:
            for camera_id in ("D1", "D2", "D7"):
                record = wait_until(lambda: state_of(client, camera_id, "online"), 20)
                assert record is not None and (record.width, record.height) == (640, 360), camera_id
            pictures = {
                cid: keyframes.decode(pool.worker(cid).ring.latest()).to_ndarray(format="rgb24") for cid in ("D1", "D2")
            }
        finally:
            assert pool.stop() == []
    # not a test pattern: mostly wall and counter colours, and two windows look different (their labels)
    assert pictures["D1"].std() > 10
    assert np.abs(pictures["D1"].astype(int) - pictures["D2"].astype(int)).sum() > 0


def test_the_demo_server_writes_its_scenes_truth_while_watched(_cairo, tmp_path):
    import av

    with start_demo_cameras(2, port=free_port(), truth_dir=tmp_path) as demo:
        with av.open(demo.url(2), options={"rtsp_transport": "tcp"}, timeout=(10, 5)) as container:
            next(container.demux(container.streams.video[0]))
            assert wait_until(lambda: read_truth(tmp_path, 2), 10)
    first_at, present = read_truth(tmp_path, 2)[0]
    assert present == Scene(2).staff_present(first_at.timestamp())
    assert not (tmp_path / "scene1.jsonl").exists()  # scene 1 was never watched


def test_a_pool_publishes_its_seats_presence_with_stills(_cairo, redis_url, tmp_path):
    from collections import deque

    from app.base import seat
    from video.presence import publish_round

    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    backlog = deque()
    with start_demo_cameras(1, port=free_port()) as demo:
        pool = CameraPool(client, FAST)
        pool.sync([Camera("D1", "W1", demo.url(1))])
        try:

            def published():
                publish_round(pool, client, {"D1": "W1"}.get, tmp_path, backlog)
                return client.xrange(seat.STREAM)

            entries = wait_until(published, 40)
        finally:
            assert pool.stop() == []
    first = seat.SeatEvent.model_validate_json(entries[0][1][b"event"])
    assert (first.camera_id, first.window_id) == ("D1", "W1") and first.state in ("present", "empty")
    assert first.after and (tmp_path / first.after).read_bytes()[:2] == b"\xff\xd8"  # a JPEG kept under var/
