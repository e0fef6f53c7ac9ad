"""Camera workers against a real RTSP server (GStreamer) and a real Redis.

Each test starts its own small server (320x240, 10 fps, a keyframe a second)
and provokes one fault the way it happens in a service center: a wrong
password, a wrong path, a camera that hangs (SIGSTOP), one that disappears
(SIGKILL) and comes back on the same port.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from urllib.parse import quote

import av
import pytest

from app.base import camera_keys as keys
from tests.video.conftest import FAST, PASSWORD, USER, wait_until
from video import health, redact, thumbnails
from video.cameras import Camera
from video.pool import CameraPool

pytestmark = pytest.mark.slow

DETECT_WITHIN = 30  # seconds: a hung or vanished camera must show as offline within this
BACK_WITHIN = 10  # seconds: a camera that returns must be online again within this


def state_of(redis_client, camera_id: str, *codes: str):
    record = health.read(redis_client, camera_id)
    if record is None:
        return None
    if record.state.value in codes or record.reason_code in codes:
        return record
    return None


def test_online_with_measured_fps_size_and_thumbnail(rtsp_server, pools, redis_client):
    server = rtsp_server(size="320x240", fps=10)
    pool = pools([Camera("K1", "W1", server.url("cam1"), "A12")])
    assert wait_until(lambda: state_of(redis_client, "K1", "online"), 15), health.read(redis_client, "K1")
    time.sleep(FAST.health_interval + 5.5)  # let the rate window fill: five seconds of packets
    record = health.read(redis_client, "K1")
    assert record.state.value == "online", record
    assert (record.width, record.height) == (320, 240)
    assert record.fps == pytest.approx(10, abs=0.6)
    assert record.bitrate > 0
    assert (record.reported_at - record.last_frame_at).total_seconds() < 2
    assert record.window_id == "W1" and record.reconnects == 0
    thumbnail = thumbnails.latest(redis_client, "K1")
    assert thumbnail is not None and thumbnail.jpeg[:2] == b"\xff\xd8"
    assert 0 < redis_client.ttl(keys.thumbnail("K1")) <= FAST.thumbnail_ttl
    jpeg, before, metadata = pool.capture_evidence("K1")
    assert jpeg[:2] == b"\xff\xd8" and len(before) >= 1
    assert (metadata["camera_id"], metadata["window_label"], metadata["width"]) == ("K1", "A12", 320)


def test_basic_auth_right_password_online_wrong_password_error_401(rtsp_server, pools, redis_client):
    server = rtsp_server(user=USER, password=PASSWORD)
    pools(
        [
            Camera("RIGHT", "W1", server.url("cam1")),
            Camera("WRONG", "W2", server.url("cam1", password="not-" + PASSWORD)),
        ]
    )
    assert wait_until(lambda: state_of(redis_client, "RIGHT", "online"), 15), health.read(redis_client, "RIGHT")
    wrong = wait_until(lambda: state_of(redis_client, "WRONG", "error"), 15)
    assert wrong is not None, health.read(redis_client, "WRONG")
    assert wrong.reason_code == "unauthorized" and "401" in wrong.reason


def test_missing_mount_is_an_error_404(rtsp_server, pools, redis_client):
    server = rtsp_server()
    pools([Camera("K404", "W1", server.url("no-such-camera"))])
    record = wait_until(lambda: state_of(redis_client, "K404", "error"), 15)
    assert record is not None, health.read(redis_client, "K404")
    assert record.reason_code == "not_found" and "404" in record.reason


def test_refused_connection_is_offline(pools, redis_client):
    from tests.video.conftest import free_port

    pools([Camera("KOFF", "W1", f"rtsp://127.0.0.1:{free_port()}/cam1")])
    record = wait_until(lambda: state_of(redis_client, "KOFF", "offline"), 15)
    assert record is not None and record.reason_code == "refused"


def test_hung_camera_detected_then_back_online(rtsp_server, pools, redis_client):
    server = rtsp_server()
    outages = []
    pools([Camera("KHUNG", "W1", server.url("cam1"))], on_outage=lambda *args: outages.append(args))
    assert wait_until(lambda: state_of(redis_client, "KHUNG", "online"), 15)

    server.hang()
    hung_at = time.monotonic()
    record = wait_until(lambda: state_of(redis_client, "KHUNG", "timeout"), DETECT_WITHIN)
    assert record is not None and record.state.value == "offline", health.read(redis_client, "KHUNG")
    assert wait_until(lambda: outages, DETECT_WITHIN - (time.monotonic() - hung_at))  # camera_offline began
    camera_id, since, ended_at = outages[0]
    assert camera_id == "KHUNG" and ended_at is None

    server.resume()
    assert wait_until(lambda: state_of(redis_client, "KHUNG", "online"), BACK_WITHIN), health.read(
        redis_client, "KHUNG"
    )
    assert wait_until(lambda: len(outages) == 2, 3)
    assert outages[1][1] == since and outages[1][2] > since  # the same outage, ended


def test_stop_is_not_held_up_by_a_hung_camera(rtsp_server, redis_client):
    server = rtsp_server()
    pool = CameraPool(redis_client, FAST)
    pool.sync([Camera("KSTOP", "W1", server.url("cam1"))])
    try:
        assert wait_until(lambda: state_of(redis_client, "KSTOP", "online"), 15)
        server.hang()
        time.sleep(1)  # the capture thread is now blocked inside FFmpeg, waiting for data
        stopping = time.monotonic()
        left = pool.stop(timeout=FAST.read_timeout * 2 + 2)
        assert left == [], f"threads still running: {left}"
        assert time.monotonic() - stopping <= FAST.read_timeout * 2 + 2
    finally:
        server.resume()
        pool.stop(timeout=5)


def test_vanished_camera_detected_then_back_after_restart(rtsp_server, pools, redis_client):
    server = rtsp_server()
    outages = []
    pools([Camera("KGONE", "W1", server.url("cam1"))], on_outage=lambda *args: outages.append(args))
    assert wait_until(lambda: state_of(redis_client, "KGONE", "online"), 15)

    server.kill()
    record = wait_until(lambda: state_of(redis_client, "KGONE", "offline"), DETECT_WITHIN)
    assert record is not None and record.reason_code in {"ended", "reset", "refused"}, record
    assert wait_until(lambda: outages, DETECT_WITHIN)

    server.restart()  # same port, like a camera after a power cut
    assert wait_until(lambda: state_of(redis_client, "KGONE", "online"), BACK_WITHIN), health.read(
        redis_client, "KGONE"
    )
    assert wait_until(lambda: len(outages) == 2 and outages[1][2] is not None, 3)
    assert health.read(redis_client, "KGONE").reconnects >= 1


def test_password_never_appears_in_logs_redis_or_evidence(rtsp_server, pools, redis_client, caplog, capfd, tmp_path):
    server = rtsp_server(user=USER, password=PASSWORD)
    redact.install()
    av.logging.set_level(av.logging.DEBUG)  # FFmpeg's own log, URL and all, into Python logging
    try:
        with caplog.at_level(logging.DEBUG):
            pool = pools(
                [
                    Camera("GOOD", "W1", server.url("cam1")),
                    Camera("BAD", "W2", server.url("cam1", password=PASSWORD + "x")),
                    Camera("NOPE", "W3", server.url("missing")),
                ],
                evidence_dir=tmp_path,
            )
            assert wait_until(lambda: state_of(redis_client, "GOOD", "online"), 15)
            assert wait_until(lambda: state_of(redis_client, "BAD", "error"), 15)
            assert wait_until(lambda: state_of(redis_client, "NOPE", "error"), 15)
            pool.keep_evidence("GOOD", "officer")
            logging.getLogger("test").warning("a camera: %r", pool.worker("GOOD").camera)
            with pytest.raises(av.error.HTTPUnauthorizedError) as raised:
                av.open(server.url("cam1", password="wrong"), options={"rtsp_transport": "tcp"}, timeout=5)
            logging.getLogger("test").error("open failed", exc_info=raised.value)
    finally:
        av.logging.set_level(None)
        redact.uninstall()
    assert any(r.name.startswith("libav") for r in caplog.records), "FFmpeg's log did not reach Python logging"
    out, err = capfd.readouterr()
    texts = {
        "logs": caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records),
        "stdout": out,
        "stderr": err,
        "redis": redis_dump(redis_client),
        "evidence": "".join(p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*.json")),
    }
    for where, text in texts.items():
        assert_no_secret(text, where)
    assert "***@127.0.0.1" in texts["logs"]  # the URLs were there, masked


def redis_dump(client) -> str:
    parts = []
    for key in client.scan_iter(count=1000):
        parts.append(key.decode("latin-1"))
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key).decode("latin-1"))
        elif kind == b"hash":
            parts.extend(v.decode("latin-1") for pair in client.hgetall(key).items() for v in pair)
        elif kind == b"stream":
            parts.extend(str(entry) for entry in client.xrange(key))
    return "\n".join(parts)


def assert_no_secret(text: str, where: str) -> None:
    lowered = text.lower()
    for form in (
        PASSWORD,
        quote(PASSWORD, safe=""),
        "p%40ss",
        "w%2frd",
        "rd%25",
        base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    ):
        assert form.lower() not in lowered, f"password form {form!r} found in {where}"
    assert "p@ss" not in lowered, f"password found in {where}"


def test_live_fmp4_remux_can_be_demuxed(rtsp_server, pools):
    server = rtsp_server()
    pool = pools([Camera("KLIVE", "W1", server.url("cam1"))])
    feed = pool.live_feed("KLIVE")
    chunks = []
    for chunk in feed.fmp4(idle_timeout=10):
        chunks.append(chunk)
        if len(chunks) > 25:
            break
    with av.open(io.BytesIO(b"".join(chunks))) as container:
        frames = list(container.decode(video=0))
    assert len(frames) >= 20 and (frames[0].width, frames[0].height) == (320, 240)
    assert frames[0].key_frame


def test_evidence_requested_by_another_process_over_redis(rtsp_server, pools, redis_client, tmp_path):
    import hashlib
    import json

    from video import evidence

    server = rtsp_server()
    pools([Camera("KEV", "W9", server.url("cam1"), "B07")], evidence_dir=tmp_path)
    assert wait_until(lambda: state_of(redis_client, "KEV", "online"), 15)
    time.sleep(2)  # a few keyframes into the ring

    answer = evidence.request(redis_client, "KEV", "officer 王", timeout=10)
    assert answer is not None and answer.ok, answer
    sidecar = json.loads(open(answer.metadata_path).read())
    folder = tmp_path / "KEV"
    assert sidecar["requested_by"] == "officer 王" and sidecar["window_label"] == "B07"
    for entry in [sidecar["still"], sidecar["stream"], *sidecar["keyframes"]]:
        data = next(folder.rglob(entry["file"])).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    with av.open(str(next(folder.rglob(sidecar["stream"]["file"])))) as original:  # the camera's own bits
        assert len(list(original.decode(video=0))) >= 2
    assert evidence.request(redis_client, "NOT-PULLED-HERE", "officer", timeout=1) is None


def test_changed_password_is_picked_up_on_sync(rtsp_server, pools, redis_client):
    server = rtsp_server(user=USER, password=PASSWORD)
    pool = pools([Camera("KPW", "W1", server.url("cam1", password="last-year"))])
    assert wait_until(lambda: state_of(redis_client, "KPW", "unauthorized"), 15)
    pool.sync([Camera("KPW", "W1", server.url("cam1"))])  # the exchange database now has the new password
    assert wait_until(lambda: state_of(redis_client, "KPW", "online"), 15), health.read(redis_client, "KPW")
