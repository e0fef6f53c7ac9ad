"""When a red alarm fires at a window, its camera's still is kept as evidence, linked to the alarm."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.base import outbox
from app.base.alarm_stream import AlarmChange
from app.base.database import open_database
from app.base.settings import Settings
from app.base.tables import evidence
from tests.video.conftest import wait_until
from video import alarm_evidence, thumbnails
from video.cameras import Camera

pytestmark = pytest.mark.slow


def _alarm(alarm_id: int, fired_at: datetime, *, level="alarm", window_id="W-1", action="fired") -> AlarmChange:
    return AlarmChange(
        alarm_id=alarm_id,
        action=action,
        actor="system",
        kind="promise_overdue",
        level=level,
        state="open",
        case_no=f"CASE-{alarm_id}",
        window_id=window_id,
        fired_at=fired_at,
        at=fired_at,
    )


def publish(db, redis, changes: list[AlarmChange]) -> None:
    """As the ingest does: into the outbox, then on the stream by a relay."""
    with db.begin() as conn:
        outbox.write(conn, changes)
    outbox.Relay(db, redis).drain()


def test_a_fresh_red_alarm_at_a_watched_window_keeps_a_still(rtsp_server, pools, redis_client, tmp_path):
    server = rtsp_server(size="320x240", fps=10, gop=10)
    pool = pools([Camera("C-1", "W-1", server.url("cam1"))], evidence_dir=tmp_path / "evidence")
    assert wait_until(lambda: thumbnails.latest(redis_client, "C-1"), 20)
    db = open_database(Settings(var_dir=tmp_path))
    stop = threading.Event()
    follower = threading.Thread(
        target=alarm_evidence.follow,
        name="test.alarm-evidence",
        args=(redis_client, pool, db, tmp_path, {"W-1": "C-1"}.get, stop),
    )
    follower.start()
    try:
        now = datetime.now(UTC)
        publish(
            db,
            redis_client,
            [
                _alarm(1, now - timedelta(days=3)),  # fired long ago (a backfill): a still now proves nothing
                _alarm(2, now, level="warning"),  # yellow: no still
                _alarm(3, now, window_id="W-unwatched"),  # another process's camera
                _alarm(4, now),
            ],
        )

        def kept():
            with db.connect() as conn:
                return conn.execute(select(evidence)).mappings().all()

        rows = wait_until(kept, 20)
        assert [(r["alarm_id"], r["case_no"], r["camera_id"], r["requested_by"]) for r in rows] == [
            (4, "CASE-4", "C-1", "system")
        ]
        assert (tmp_path / rows[0]["path"]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG, under var/
    finally:
        stop.set()
        follower.join(10)
    assert not follower.is_alive()


def test_the_follower_rides_out_redis_down_at_start_and_later(
    rtsp_server,
    pools,
    redis_client,
    redis_url,
    tmp_path,
):
    """Started while Redis is cut, cut again while it follows: it never dies, and a red alarm
    published once Redis is back still gets its still, once."""
    from app.base.messaging import connect_url
    from tests.faultproxy import FaultProxy

    server = rtsp_server(size="320x240", fps=10, gop=10)
    pool = pools([Camera("C-1", "W-1", server.url("cam1"))], evidence_dir=tmp_path / "evidence")
    assert wait_until(lambda: thumbnails.latest(redis_client, "C-1"), 20)
    db = open_database(Settings(var_dir=tmp_path))
    stop = threading.Event()
    with FaultProxy("127.0.0.1", 6379) as proxy:
        proxy.cut()
        follower = threading.Thread(
            target=alarm_evidence.follow,
            name="test.alarm-evidence",
            args=(
                connect_url(redis_url.replace(":6379", f":{proxy.port}")),
                pool,
                db,
                tmp_path,
                {"W-1": "C-1"}.get,
                stop,
            ),
        )
        follower.start()
        try:
            time.sleep(2)
            proxy.heal()
            time.sleep(3)  # it reads the stream now
            proxy.hang()
            time.sleep(3)
            assert follower.is_alive()
            proxy.heal()
            now = datetime.now(UTC)
            publish(db, redis_client, [_alarm(5, now)])

            def kept():
                with db.connect() as conn:
                    return conn.execute(select(evidence)).mappings().all()

            rows = wait_until(kept, 30)
            assert [(r["alarm_id"], r["requested_by"]) for r in rows] == [(5, "system")]
            time.sleep(2)
            assert len(kept()) == 1
        finally:
            stop.set()
            follower.join(15)
    assert not follower.is_alive()
