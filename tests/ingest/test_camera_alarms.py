"""camera_offline alarms: from the video workers' outage stream, through the rules, to alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib

from app.base.database import open_database
from app.base.settings import Settings
from ingest.camera_alarms import camera_places, take_outages
from video.outage import stream_hook

from .exchange_builder import Exchange

pytestmark = pytest.mark.slow
T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def test_an_outage_fires_at_the_threshold_and_closes_when_frames_come_back(tmp_path, redis_url):
    exchange = Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")
    db = open_database(Settings(var_dir=tmp_path))
    redis = redis_lib.Redis.from_url(redis_url)
    hook = stream_hook(redis, {"C-A01": "W-A01"}.get, offline_after=30)
    places = camera_places(exchange.engine)

    hook("C-A01", T0, None)  # the last good frame was at T0; a worker noticed 30 s later
    hook("C-A02", T0, T0 + timedelta(seconds=10))  # a 10 s gap: never an alarm
    [fired] = take_outages(redis, db, places, now=T0 + timedelta(seconds=31))
    assert (fired.kind, fired.action, fired.camera_id, fired.window_id) == ("camera_offline", "fired", "C-A01", "W-A01")
    assert fired.fired_at == T0 + timedelta(seconds=30) and fired.center_id == "GX-450100"
    assert take_outages(redis, db, places, now=T0 + timedelta(seconds=40)) == []  # nothing new: nothing changes

    hook("C-A01", T0, T0 + timedelta(minutes=5))  # frames are back
    [closed] = take_outages(redis, db, places, now=T0 + timedelta(minutes=5, seconds=2))
    assert (closed.alarm_id, closed.action, closed.state) == (fired.alarm_id, "resolved", "closed")

    hook("C-A01", T0 + timedelta(hours=1), None)  # a second outage is a second alarm
    hook("C-A01", T0 + timedelta(hours=1), T0 + timedelta(hours=2))  # ...read together with its end
    changes = take_outages(redis, db, places, now=T0 + timedelta(hours=3))
    assert [(c.action, c.state) for c in changes] == [("fired", "open"), ("resolved", "closed")]
    assert changes[0].alarm_id != fired.alarm_id
