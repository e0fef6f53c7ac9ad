"""A real RTSP server for the video tests: /work/shared/tools/rtsp-test-server.

It runs with the system Python (it needs GStreamer's gst-rtsp-server through
python3-gi). When its Debian packages are missing the tests that need it are
skipped loudly (a warning and the end-of-run banner), and in CI (CI=true)
they fail instead.

Faults: ``server.kill()`` (SIGKILL: the camera is gone), ``server.hang()``
(SIGSTOP: the connection stays open, nothing comes), ``server.resume()``
(SIGCONT), ``server.restart()`` (a new server on the same port).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis as redis_lib

from app.base.settings import VideoSettings
from tests.conftest import _service_missing
from video.pool import CameraPool

SERVER = Path(os.environ.get("RTSP_TEST_SERVER", "/work/shared/tools/rtsp-test-server"))
SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly"
)

# A password with every character that breaks naive URL handling; percent-encoded in URLs.
PASSWORD = "p@ss:w/rd%"
USER = "admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gstreamer_missing() -> str | None:
    if not SERVER.exists():
        return f"{SERVER} does not exist"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
            "from gi.repository import Gst; Gst.init(None);"
            "assert Gst.ElementFactory.find('x264enc'), 'x264enc'",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode:
        return f"GStreamer RTSP server unusable ({probe.stderr.strip().splitlines()[-1:]}); apt-get install {DEBIAN_PACKAGES}"
    return None


class RtspServer:
    def __init__(
        self,
        *,
        cameras: int = 1,
        size: str = "320x240",
        fps: int = 10,
        gop: int = 10,
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        codec: str = "h264",
        auth: str = "basic",
        audio: str = "none",
    ) -> None:
        self.port = port or free_port()
        self.args = [
            "--port",
            str(self.port),
            "--cameras",
            str(cameras),
            "--size",
            size,
            "--fps",
            str(fps),
            "--gop",
            str(gop),
            "--kbps",
            "512",
        ]
        if user:
            self.args += ["--user", user, "--password", password or "", "--auth", auth]
        self.args += ["--codec", codec, "--audio", audio]
        self.user, self.password = user, password
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self, timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), *self.args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith("READY"):
                    return
            if self.process.poll() is not None:
                break
        error = self.process.stderr.read() if self.process.poll() is not None else "no READY line"
        self.close()
        raise RuntimeError(f"rtsp-test-server did not start on port {self.port}: {error}")

    def url(self, path: str = "cam1", *, password: str | None = None, raw: bool = False) -> str:
        """The camera's URL, its password percent-encoded (`raw`: as an installer types it)."""
        password = self.password if password is None else password
        auth = f"{self.user}:{password if raw else quote(password, safe='')}@" if self.user else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{path}"

    def hang(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def restart(self) -> None:
        """A new server on the same port, as when a camera comes back after a power cut."""
        deadline = time.monotonic() + 20
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the port may linger for a moment

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr) if self.process else ():
            stream.close()


@pytest.fixture(scope="session")
def _gstreamer():
    missing = gstreamer_missing()
    if missing:
        _service_missing(f"RTSP test server ({missing})", RuntimeError(missing))


@pytest.fixture
def rtsp_server(_gstreamer):
    """Factory: rtsp_server(cameras=1, size='320x240', fps=10, gop=10, user=None, password=None,
    codec='h264'|'h265', auth='basic'|'digest', audio='none'|'pcma'|'aac') -> RtspServer."""
    servers: list[RtspServer] = []

    def start(**kwargs) -> RtspServer:
        server = RtspServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def wait_until(predicate, timeout: float, interval: float = 0.2):
    """predicate()'s first truthy value within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


FAST = VideoSettings(
    open_timeout=5,
    read_timeout=2,
    offline_after=5,
    thumbnail_interval=1,
    health_interval=1,
    retry_base=0.5,
    retry_cap=2,
    error_retry_base=1,
    error_retry_cap=3,
    start_spread=0,
)


@pytest.fixture
def redis_client(redis_url):
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
    yield client
    client.close()


@pytest.fixture
def pools(redis_client):
    """Factory of camera pools whose threads must all have ended at teardown (no hung thread)."""
    started: list[CameraPool] = []

    def make(cameras, config=FAST, on_outage=None, **kwargs) -> CameraPool:
        pool = CameraPool(redis_client, config, on_outage=on_outage, **kwargs)
        started.append(pool)
        pool.sync(cameras)
        return pool

    yield make
    for pool in started:
        assert pool.stop() == [], "a camera thread did not end"
