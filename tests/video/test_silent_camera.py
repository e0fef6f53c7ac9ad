"""A camera that accepts the connection and then says nothing: detected by the open timeout, never waited on."""

from __future__ import annotations

import socket
import threading
import time

import fakeredis

from app.base.settings import VideoSettings
from tests.video.conftest import wait_until
from video.cameras import Camera
from video.pool import CameraPool


def test_silent_camera_times_out_and_its_thread_stops():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_say_nothing():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    silent = threading.Thread(target=accept_and_say_nothing, daemon=True)
    silent.start()
    config = VideoSettings(open_timeout=1.5, read_timeout=1, start_spread=0, retry_base=0.2, retry_cap=0.5)
    pool = CameraPool(fakeredis.FakeRedis(), config)
    try:
        pool.sync([Camera("KSILENT", "W1", f"rtsp://u:pw-silent@127.0.0.1:{listener.getsockname()[1]}/cam1")])
        record = wait_until(lambda: (h := pool.health("KSILENT")).reason_code == "timeout" and h, 10)
        assert record is not None, pool.health("KSILENT")
        assert record.state.value == "offline" and "no answer within 1.5 s" in record.reason
        assert accepted, "the worker never connected"
        started = time.monotonic()
        assert pool.stop(timeout=5) == []
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        silent.join(2)
        for connection in accepted:
            connection.close()
        listener.close()


def test_camera_that_hangs_up_at_once_is_offline_not_misconfigured():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def hang_up():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                listener.accept()[0].close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    pool = CameraPool(fakeredis.FakeRedis(), VideoSettings(open_timeout=3, start_spread=0, retry_cap=0.5))
    try:
        pool.sync([Camera("KHANGUP", "W1", f"rtsp://127.0.0.1:{listener.getsockname()[1]}/cam1")])
        record = wait_until(lambda: (h := pool.health("KHANGUP")).reason_code == "bad_reply" and h, 10)
        assert record is not None and record.state.value == "offline", pool.health("KHANGUP")
        assert pool.stop(timeout=5) == []
    finally:
        stop.set()
        thread.join(2)
        listener.close()
