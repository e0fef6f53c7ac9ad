"""Health records: measured rates, readable reasons, stale records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import av
import pytest

from video import faults, health
from video.health import CameraHealth, CameraState, HealthTracker

T0 = 1_800_000_000.0


def test_fps_and_bitrate_come_from_packet_timestamps():
    tracker = HealthTracker("K1", "W1", T0)
    tracker.connected(320, 240, T0)
    tracker.keyframe_decoded(T0, 320, 240)
    # 25 fps by timestamps, delivered in bursts (arrival times say nothing about the rate)
    for n in range(50):
        tracker.packet(T0 + (n // 10) * 0.4, n / 25, 1000)
    record = tracker.health(T0 + 2)
    assert record.state is CameraState.ONLINE
    assert record.fps == pytest.approx(25, abs=0.01)
    assert record.bitrate == pytest.approx(8 * 1000 * 25, rel=0.03)
    assert (record.width, record.height) == (320, 240)


def test_packets_count_as_frames_only_once_a_keyframe_decoded():
    tracker = HealthTracker("K1", "W1", T0)
    tracker.connected(320, 240, T0)
    assert tracker.packet(T0 + 1, 0.0, 100) is False
    tracker.keyframe_decoded(T0 + 2, 320, 240)
    assert tracker.packet(T0 + 3, 1.0, 100) is True
    assert tracker.health(T0 + 3).last_frame_at == datetime.fromtimestamp(T0 + 3, UTC)


def test_reconnects_counted_for_the_last_hour_only():
    tracker = HealthTracker("K1", "W1", T0)
    for minute in range(0, 120, 10):  # first attempt, then 11 retries over two hours
        tracker.connecting(T0 + minute * 60)
    assert tracker.health(T0 + 120 * 60).reconnects == 6


def test_a_report_from_a_dead_worker_reads_as_offline():
    reported = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    record = CameraHealth(camera_id="K1", state=CameraState.ONLINE, since=reported, reported_at=reported, fps=25)
    assert record.seen_at(reported + timedelta(seconds=30), 30) is record
    stale = record.seen_at(reported + timedelta(seconds=31), 30)
    assert (stale.state, stale.reason_code, stale.fps) == (CameraState.OFFLINE, "no_report", None)


def test_record_round_trips_through_json():
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    record = CameraHealth(
        camera_id="K1", window_id="W1", state=CameraState.ERROR, reason="401", since=at, reported_at=at
    )
    assert CameraHealth.from_json(record.to_json()) == record
    assert '"version":1' in record.to_json()


def test_unknown_versions_are_skipped_by_readers():
    assert health._parse(b'{"version": 2, "camera_id": "K1"}') is None


URL = "rtsp://admin:secret@10.0.0.1/x"


@pytest.mark.parametrize(
    "exc, opening, state, code",
    [
        (av.error.HTTPUnauthorizedError(-1, "401", URL), True, "error", "unauthorized"),  # password changed
        (av.error.HTTPNotFoundError(-1, "404", URL), True, "error", "not_found"),  # stream path wrong
        (av.error.HTTPForbiddenError(-1, "403", URL), True, "error", "forbidden"),
        (av.error.ConnectionRefusedError(111, "refused", URL), True, "offline", "refused"),  # camera rebooting
        (av.error.ExitError(-1, "exit", URL), True, "offline", "timeout"),  # no answer while opening
        (av.error.ExitError(-1, "exit", URL), False, "offline", "timeout"),  # hung while streaming
        (av.error.EOFError(-1, "eof", URL), False, "offline", "ended"),
        (av.error.PermissionError(1, "EPERM", URL), False, "offline", "reset"),  # RTSP's short interleaved read
        (av.error.InvalidDataError(-1, "bad", URL), True, "offline", "bad_reply"),  # closed at once, or not RTSP
        (av.error.InvalidDataError(-1, "bad", URL), False, "error", "undecodable"),  # the stream itself
        (av.error.OSError(5, "I/O error", URL), True, "offline", "network"),  # FFmpeg's EIO: e.g. unknown host
        (RuntimeError(URL), False, "offline", "unexpected"),
    ],
)
def test_faults_are_classified_by_type_never_by_message(exc, opening, state, code):
    fault = faults.classify(exc, opening=opening, open_timeout=10, read_timeout=5)
    assert (fault.state.value, fault.code) == (state, code)
    assert "secret" not in fault.reason


def test_a_silent_handshake_is_a_timeout():
    # FFmpeg calls an interrupted RTSP handshake "invalid data"; it took the whole open timeout
    silent = faults.classify(
        av.error.InvalidDataError(-1, "bad", URL), opening=True, open_timeout=10, read_timeout=5, elapsed=10.01
    )
    assert silent.code == "timeout"


def test_timeouts_say_which_timeout():
    exit_error = av.error.ExitError(-1, "exit", URL)
    assert "no answer within 10 s" in faults.classify(exit_error, opening=True, open_timeout=10, read_timeout=5).reason
    assert "no data for 5 s" in faults.classify(exit_error, opening=False, open_timeout=10, read_timeout=5).reason
