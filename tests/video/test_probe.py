"""`supervise cameras probe ID`: what a hall camera sends, as an installer runs it first, with no password shown."""

from __future__ import annotations

import json
import os

import pytest

from tests.video.conftest import USER
from tests.video.test_command import build_exchange, run
from tests.video.test_hall_cameras import HALL_PASSWORD
from tests.video.test_rtsp_workers import assert_no_secret

pytestmark = pytest.mark.slow


def test_probe_names_codec_size_rate_auth_audio_and_substream(rtsp_server, redis_url, tmp_path):
    main = rtsp_server(
        codec="h265", auth="digest", audio="pcma", user=USER, password=HALL_PASSWORD, size="640x360", fps=10
    )
    sub = rtsp_server(codec="h264", auth="basic", user=USER, password=HALL_PASSWORD, size="320x180", fps=10)
    exchange_url = f"sqlite:///{tmp_path / 'exchange.db'}"
    cameras = [
        # typed as the camera's web page shows the password
        ("HALL", main.url("cam1", raw=True), sub.url("cam1", raw=True)),
        ("WRONG", main.url("cam1", password="x" + HALL_PASSWORD), None),
    ]
    build_exchange(
        exchange_url,
        [
            {"camera_id": camera_id, "window_id": f"W{n}", "url": url, "substream_url": substream, "enabled": True}
            for n, (camera_id, url, substream) in enumerate(cameras, 1)
        ],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    env.update(SUPERVISE_EXCHANGE_URL=exchange_url, SUPERVISE_REDIS_URL=redis_url, SUPERVISE_VAR_DIR=str(tmp_path))

    probed = run(env, "cameras", "probe", "HALL", "--json", "--seconds", "2")
    assert probed.returncode == 0, probed.stderr
    found = json.loads(probed.stdout)
    first = found["main"]
    assert (first["codec"], first["profile"], first["width"], first["height"]) == ("hevc", "Main", 640, 360)
    assert first["fps"] == pytest.approx(10, abs=1) and first["bitrate"] > 0
    assert first["auth"] == "digest" and first["audio"]["codec"] == "pcm_alaw"
    assert first["audio"]["sample_rate"] == 8000
    substream = found["substream"]
    assert (substream["codec"], substream["width"], substream["auth"], substream["audio"]) == (
        "h264",
        320,
        "basic",
        None,
    )
    assert first["url"] == f"rtsp://***@127.0.0.1:{main.port}/cam1"

    text = run(env, "cameras", "probe", "HALL")
    assert text.returncode == 0 and "hevc Main 640x360" in text.stdout and "audio pcm_alaw 8000 Hz" in text.stdout

    wrong = run(env, "cameras", "probe", "WRONG")
    assert wrong.returncode == 1 and "401 unauthorized: user name or password rejected" in wrong.stdout
    assert "substream  none" in wrong.stdout

    missing = run(env, "cameras", "probe", "NOPE")
    assert missing.returncode == 2 and "no camera 'NOPE'" in missing.stderr and "Traceback" not in missing.stderr
    for result in (probed, text, wrong, missing):
        assert_no_secret(result.stdout + result.stderr, "probe output")
        assert "rd%#1" not in result.stdout + result.stderr
