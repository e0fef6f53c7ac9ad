"""`supervise video` and `supervise cameras` as an operator runs them, password included in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import insert

from app.base import exchange as x
from tests.video.conftest import PASSWORD, USER
from tests.video.test_rtsp_workers import assert_no_secret, redis_dump

pytestmark = pytest.mark.slow

SUPERVISE = [sys.executable, "-c", "from app.cli import main; main()"]


def build_exchange(url: str, cameras: list[dict]) -> None:
    engine = x.exchange_engine(url)
    x.create_exchange_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(x.centers), [{"center_id": "GX-450100", "name": "南宁市政务服务中心", "level": "city"}])
        conn.execute(
            insert(x.windows),
            [
                {"window_id": f"W{n}", "center_id": "GX-450100", "label": f"A{n:02d}"}
                for n in range(1, len(cameras) + 1)
            ],
        )
        conn.execute(insert(x.cameras), cameras)
    engine.dispose()


def run(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*SUPERVISE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_video_then_cameras_json(rtsp_server, redis_url, tmp_path):
    import redis as redis_lib

    server = rtsp_server(user=USER, password=PASSWORD)
    exchange_url = f"sqlite:///{tmp_path / 'exchange.db'}"
    build_exchange(
        exchange_url,
        [
            {"camera_id": "C1", "window_id": "W1", "url": server.url("cam1"), "enabled": True},
            {
                "camera_id": "C2",
                "window_id": "W2",
                "url": server.url("cam1", password="old-" + PASSWORD),
                "enabled": True,
            },
            {"camera_id": "C3", "window_id": "W3", "url": server.url("cam1"), "enabled": False},
        ],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    env.update(SUPERVISE_EXCHANGE_URL=exchange_url, SUPERVISE_REDIS_URL=redis_url, SUPERVISE_VAR_DIR=str(tmp_path))

    video = run(env, "-vv", "video", "--once-seconds", "6", "--start-spread", "0")
    assert video.returncode == 0, video.stderr
    cameras = run(env, "cameras", "--json")
    assert cameras.returncode == 0, cameras.stderr

    rows = {row["camera_id"]: row for row in map(json.loads, cameras.stdout.splitlines())}
    assert set(rows) == {"C1", "C2"}  # C3 is disabled
    assert rows["C1"]["state"] == "online" and (rows["C1"]["width"], rows["C1"]["height"]) == (320, 240)
    assert rows["C1"]["fps"] == pytest.approx(10, abs=1) and rows["C1"]["last_frame_at"]
    assert rows["C2"]["state"] == "error" and "401" in rows["C2"]["reason"]
    assert set(rows["C1"]) >= {
        "camera_id",
        "window_id",
        "state",
        "reason",
        "fps",
        "width",
        "height",
        "last_frame_at",
        "reconnects",
    }
    one = run(env, "cameras", "--json", "--limit", "1")  # stopped early: said on stderr, stdout stays JSON
    assert [json.loads(line)["camera_id"] for line in one.stdout.splitlines()] == ["C1"]
    assert "stopped after 1 cameras" in one.stderr
    assert "DEBUG" in video.stderr  # -vv: the most talkative it gets, and still no password
    client = redis_lib.Redis.from_url(redis_url)
    for where, text in {
        "video stdout": video.stdout,
        "video stderr": video.stderr,
        "cameras stdout": cameras.stdout,
        "cameras stderr": cameras.stderr,
        "redis": redis_dump(client),
    }.items():
        assert_no_secret(text, where)


def test_bad_shard_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    env["SUPERVISE_VAR_DIR"] = str(tmp_path)
    result = run(env, "video", "--shard", "4/4")
    assert result.returncode == 2
    assert "shard" in result.stderr and "Traceback" not in result.stderr


def test_start_workers_runs_until_stop_is_set(rtsp_server, redis_url, tmp_path):
    import threading

    from app.base.settings import Settings, VideoSettings
    from tests.video.conftest import wait_until
    from video.pool import start_workers

    server = rtsp_server()
    exchange_url = f"sqlite:///{tmp_path / 'exchange.db'}"
    build_exchange(exchange_url, [{"camera_id": "S1", "window_id": "W1", "url": server.url("cam1"), "enabled": True}])
    settings = Settings(exchange_url=exchange_url, redis_url=redis_url, var_dir=tmp_path)
    stop = threading.Event()
    pool = start_workers(settings, stop, config=VideoSettings(start_spread=0))
    assert wait_until(lambda: pool.health("S1").state.value == "online", 15), pool.health("S1")
    assert pool.live_feed("S1") is not None  # the demo hands this pool to the web app as its live source
    stop.set()
    assert wait_until(lambda: not any(t.name.startswith("video.") for t in threading.enumerate()), 15), [
        t.name for t in threading.enumerate()
    ]
