"""camera_offline: when an outage begins and ends, to the instant."""

from __future__ import annotations

from datetime import UTC

from video.outage import OutageWatch

T0 = 1_800_000_000.0


def test_fires_exactly_at_the_threshold():
    watch = OutageWatch(30, watching_since=T0)
    watch.frame(T0 + 1)
    assert watch.check(T0 + 30.999) == []  # 29.999 s without a frame: not yet
    assert watch.check(T0 + 31) == [(T0 + 1, None)]  # 30 s exactly: offline, since the last frame
    assert watch.check(T0 + 40) == []  # one notification per outage


def test_ends_at_the_first_frame_back():
    watch = OutageWatch(30, watching_since=T0)
    watch.frame(T0)
    assert watch.check(T0 + 30) == [(T0, None)]
    watch.frame(T0 + 45)
    watch.frame(T0 + 46)
    assert watch.check(T0 + 47) == [(T0, T0 + 45)]  # ended at the first frame, not the check
    assert watch.check(T0 + 50) == []


def test_camera_never_seen_is_offline_since_watching_began():
    watch = OutageWatch(30, watching_since=T0)
    assert watch.check(T0 + 30) == [(T0, None)]


def test_gap_noticed_only_after_frames_came_back_is_still_reported():
    # the checker was late (a stalled process): the outage happened all the same
    watch = OutageWatch(30, watching_since=T0)
    watch.frame(T0 + 1)
    watch.frame(T0 + 41)
    assert watch.check(T0 + 42) == [(T0 + 1, T0 + 41)]


def test_short_gaps_are_not_outages():
    watch = OutageWatch(30, watching_since=T0)
    for second in range(0, 300, 29):
        watch.frame(T0 + second)
        assert watch.check(T0 + second) == []


def test_stream_hook_appends_versioned_events():
    from datetime import datetime

    import fakeredis

    from app.base import camera_keys as keys
    from video.outage import OutageEvent, stream_hook

    redis = fakeredis.FakeRedis()
    hook = stream_hook(redis, {"K1": "W1"}.get, 30.0)
    since = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    hook("K1", since, None)
    hook("K1", since, datetime(2026, 11, 27, 4, 5, tzinfo=UTC))
    events = [OutageEvent.model_validate_json(fields[b"event"]) for _, fields in redis.xrange(keys.OUTAGE_STREAM)]
    assert [(e.version, e.camera_id, e.window_id, e.since, e.ended_at is None) for e in events] == [
        (1, "K1", "W1", since, True),
        (1, "K1", "W1", since, False),
    ]
