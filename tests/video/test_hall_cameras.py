"""Cameras as service halls have them, on the real RTSP server: an H.265 main stream behind digest
authentication with a G.711 audio track, an H.264 substream, passwords full of URL syntax."""

from __future__ import annotations

import json
import logging

import pytest

from app.base.settings import VideoSettings, substream_vendors
from tests.video.conftest import USER, wait_until
from tests.video.test_rtsp_workers import assert_no_secret, state_of
from video import health, redact, stream_urls, thumbnails
from video.cameras import Camera

# Every character that ends a URL's userinfo, host or path early: '#' too.
HALL_PASSWORD = "p@ss:w/rd%#1"


@pytest.mark.parametrize(
    ("typed", "encoded"),
    [
        # as an installer types it from the camera's web page
        (
            f"rtsp://admin:{HALL_PASSWORD}@10.1.2.3:554/Streaming/Channels/101",
            "rtsp://admin:p%40ss%3Aw%2Frd%25%231@10.1.2.3:554/Streaming/Channels/101",
        ),
        # already encoded: kept as it is
        ("rtsp://admin:p%40ss%3Aw%2Frd%25%231@10.1.2.3/x", "rtsp://admin:p%40ss%3Aw%2Frd%25%231@10.1.2.3/x"),
        # an '@' in the path after plain credentials is not the end of the userinfo
        ("rtsp://admin:pw@10.1.2.3/a@b", "rtsp://admin:pw@10.1.2.3/a@b"),
        # a '#' alone makes the rest a fragment for every URL parser
        ("rtsp://admin:ab#cd@[fe80::1]:554/s", "rtsp://admin:ab%23cd@[fe80::1]:554/s"),
        # no credentials, nothing to do
        ("rtsp://10.1.2.3/cam/realmonitor?channel=1&subtype=0", "rtsp://10.1.2.3/cam/realmonitor?channel=1&subtype=0"),
        # a user with no password
        ("rtsp://op erator@10.1.2.3/s", "rtsp://op%20erator@10.1.2.3/s"),
    ],
)
def test_credentials_are_percent_encoded_once(typed, encoded):
    assert stream_urls.with_encoded_credentials(typed) == encoded
    assert stream_urls.with_encoded_credentials(encoded) == encoded


@pytest.mark.parametrize(
    ("main", "vendor", "sub"),
    [
        ("rtsp://a:b@h/Streaming/Channels/101", "hikvision", "rtsp://a:b@h/Streaming/Channels/102"),
        (
            "rtsp://a:b@h:554/Streaming/Channels/301?transportmode=unicast",
            "hikvision",
            "rtsp://a:b@h:554/Streaming/Channels/302?transportmode=unicast",
        ),
        ("rtsp://h/ISAPI/Streaming/channels/101", "hikvision", "rtsp://h/ISAPI/Streaming/channels/102"),
        ("rtsp://h/Streaming/Channels/102", "hikvision", None),  # already a substream: no guess
        (
            "rtsp://a:b@h/cam/realmonitor?channel=1&subtype=0",
            "dahua",
            "rtsp://a:b@h/cam/realmonitor?channel=1&subtype=1",
        ),
        ("rtsp://h/cam/realmonitor?subtype=0&channel=2", "dahua", "rtsp://h/cam/realmonitor?subtype=1&channel=2"),
        ("rtsp://h/live/main", "dahua", None),  # not the vendor's pattern: none
        ("rtsp://h/cam/realmonitor?channel=1&subtype=0", "hikvision", None),
    ],
)
def test_vendor_substreams_only_where_the_pattern_is_known(main, vendor, sub):
    assert stream_urls.vendor_substream(main, vendor) == sub


def test_vendor_substreams_are_opt_in_per_camera_or_for_all():
    assert substream_vendors("") == (None, {})
    assert substream_vendors("dahua, K1=hikvision") == ("dahua", {"K1": "hikvision"})
    with pytest.raises(ValueError, match="unknown camera vendor 'uniview'"):
        substream_vendors("uniview")
    main = "rtsp://a:secret1@h/Streaming/Channels/101"
    camera = Camera("K1", "W1", main)
    assert camera.with_vendor_substream(None).substream_url is None  # never guessed silently
    assert camera.with_vendor_substream("hikvision").monitor_url.endswith("/102")
    own = Camera("K2", "W1", main, substream_url="rtsp://h/own")
    assert own.with_vendor_substream("hikvision").substream_url == "rtsp://h/own"  # a row's own one wins
    config = VideoSettings(substream_vendor="K1=hikvision")
    assert (config.substream_vendor_of("K1"), config.substream_vendor_of("K2")) == ("hikvision", None)


def test_a_substream_password_is_redacted_too():
    camera = Camera("K3", "W1", "rtsp://a:mainsecret@h/1", substream_url="rtsp://a:sub#secret@h/2")
    assert "sub#secret" not in repr(camera) and "sub%23secret" not in repr(camera)
    assert redact.redact("sub%23secret and sub#secret") == "*** and ***"


slow = pytest.mark.slow


@slow
@pytest.mark.parametrize("auth", ["digest", "basic"])
def test_h265_camera_with_audio_online_with_any_password_typed_or_encoded(rtsp_server, pools, redis_client, auth):
    server = rtsp_server(codec="h265", auth=auth, audio="pcma", user=USER, password=HALL_PASSWORD)
    pools(
        [
            Camera("TYPED", "W1", server.url("cam1", raw=True)),
            Camera("ENCODED", "W2", server.url("cam1")),
            Camera("WRONG", "W3", server.url("cam1", password="x" + HALL_PASSWORD)),
        ]
    )
    for camera_id in ("TYPED", "ENCODED"):
        assert wait_until(lambda: state_of(redis_client, camera_id, "online"), 20), health.read(redis_client, camera_id)
    wrong = wait_until(lambda: state_of(redis_client, "WRONG", "error"), 20)
    assert wrong is not None and wrong.reason_code == "unauthorized", health.read(redis_client, "WRONG")
    assert_no_secret(wrong.model_dump_json(), "the health record")
    assert HALL_PASSWORD[-4:] not in wrong.model_dump_json()


@slow
def test_hall_camera_watched_on_its_substream_evidence_from_the_main_stream(
    rtsp_server, pools, redis_client, tmp_path, caplog
):
    main = rtsp_server(codec="h265", auth="digest", audio="pcma", user=USER, password=HALL_PASSWORD, size="640x360")
    sub = rtsp_server(codec="h264", auth="digest", user=USER, password=HALL_PASSWORD, size="320x180")
    camera = Camera("HALL", "W1", main.url("cam1", raw=True), "A01", sub.url("cam1", raw=True))
    redact.install()
    try:
        with caplog.at_level(logging.DEBUG):
            pool = pools([camera], evidence_dir=tmp_path)
            record = wait_until(lambda: state_of(redis_client, "HALL", "online"), 20)
            assert record is not None, health.read(redis_client, "HALL")
            assert (record.width, record.height) == (320, 180)  # health from the substream
            thumbnail = wait_until(lambda: thumbnails.latest(redis_client, "HALL"), 10)
            assert _jpeg_size(thumbnail.jpeg) == (320, 180)  # so are thumbnails and the wall
            wait_until(lambda: len(pool.worker("HALL").ring.recent()) >= 2, 10)
            sidecar = json.loads(pool.keep_evidence("HALL", "officer").read_text())
    finally:
        redact.uninstall()
    assert (sidecar["width"], sidecar["height"], sidecar["codec"], sidecar["source"]) == (640, 360, "hevc", "main")
    assert len(sidecar["keyframes"]) >= 2  # the seconds before, from the substream
    folder = tmp_path / "HALL"
    assert _jpeg_size(next(folder.rglob("still.jpg")).read_bytes()) == (640, 360)
    assert next(folder.rglob("still.hevc")).stat().st_size > 0  # the main stream's own bits
    assert_no_secret(caplog.text, "logs")
    assert "rd%#1" not in caplog.text and "rd%25%231" not in caplog.text


@slow
def test_evidence_falls_back_to_the_substream_when_the_main_stream_refuses(rtsp_server, pools, redis_client, tmp_path):
    main = rtsp_server(codec="h265", auth="digest", user=USER, password=HALL_PASSWORD, size="640x360")
    sub = rtsp_server(size="320x180")
    camera = Camera("HALL2", "W1", main.url("cam1", password="wrong-one"), None, sub.url("cam1"))
    pool = pools([camera], evidence_dir=tmp_path)
    assert wait_until(lambda: state_of(redis_client, "HALL2", "online"), 20)
    wait_until(lambda: pool.worker("HALL2").ring.recent(), 10)
    sidecar = json.loads(pool.keep_evidence("HALL2", "officer").read_text())
    assert (sidecar["width"], sidecar["source"]) == (320, "substream")
    assert "401" in sidecar["main_stream_fault"] and "wrong-one" not in json.dumps(sidecar)


def _jpeg_size(jpeg: bytes) -> tuple[int, int]:
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return image.shape[1], image.shape[0]


@slow
@pytest.mark.parametrize("audio", ["pcma", "aac"])
def test_an_audio_track_never_reaches_the_live_view(rtsp_server, pools, audio):
    import io

    import av

    server = rtsp_server(audio=audio, user=USER, password=HALL_PASSWORD, auth="digest")
    pool = pools([Camera("AUDIO", "W1", server.url("cam1", raw=True))])
    chunks = []
    for chunk in pool.live_feed("AUDIO").fmp4(idle_timeout=15):
        chunks.append(chunk)
        if len(chunks) > 15:
            break
    with av.open(io.BytesIO(b"".join(chunks))) as container:
        assert [s.type for s in container.streams] == ["video"]
        assert len(list(container.decode(video=0))) >= 10
