"""Is this camera alive? One typed health record per camera, and its tracker.

A worker keeps a :class:`HealthTracker` per camera, fed from the capture thread
(packets, keyframe decodes, faults) and read by the publisher, which writes the
record to Redis on every change and at least every ``health_interval`` seconds
(keys in :mod:`app.base.camera_keys`, the record in :mod:`app.base.camera_messages`).

States: ``online`` (keyframes decode, frames arrive), ``offline`` (refused,
timeout, stream ended: a network or power problem, retried soon) and ``error``
(401, 404, undecodable: a configuration problem, retried slowly). A reader
never trusts an old record: :meth:`CameraHealth.seen_at` turns a record whose
worker stopped reporting into ``offline`` / ``no_report``.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime

from app.base import camera_keys as keys
from app.base.camera_messages import CameraHealth, CameraState

HOUR = 3600.0
RATE_WINDOW = 5.0  # seconds of packets behind fps and bitrate
KEEP_RECORD = 24 * 3600  # a removed camera's record disappears after a day


class HealthTracker:
    """The live facts about one camera, from which :meth:`health` derives its record.

    Times are epoch seconds from the caller's clock. Thread-safe: the capture
    thread writes, the publisher reads.
    """

    def __init__(self, camera_id: str, window_id: str | None, started_at: float) -> None:
        self.camera_id, self.window_id = camera_id, window_id
        self._lock = threading.Lock()
        self._state, self._code, self._reason = CameraState.OFFLINE, "connecting", "connecting"
        self._since = started_at
        self._width: int | None = None
        self._height: int | None = None
        self._last_frame_at: float | None = None
        self._attempts = 0
        self._retries: deque[float] = deque()
        self._packets: deque[tuple[float, float | None, int]] = deque()
        self._decodable = False
        self.changes = 0  # bumped on every state change, so the publisher writes at once

    # --- written by the capture thread ---

    def connecting(self, at: float) -> None:
        with self._lock:
            if self._attempts:
                self._retries.append(at)
            self._attempts += 1

    def connected(self, width: int | None, height: int | None, at: float) -> None:
        with self._lock:
            self._width, self._height = width or self._width, height or self._height
            self._decodable = False  # a new stream proves itself with a decoded keyframe
            self._packets.clear()
            if self._state is not CameraState.ONLINE:
                self._set(CameraState.OFFLINE, "waiting_keyframe", "connected, waiting for a decodable keyframe", at)

    def packet(self, at: float, pts_seconds: float | None, size: int) -> bool:
        """A video packet arrived; True if it counts as a decodable frame."""
        with self._lock:
            self._packets.append((at, pts_seconds, size))
            while self._packets and at - self._packets[0][0] > RATE_WINDOW:
                self._packets.popleft()
            if self._decodable:
                self._last_frame_at = at
            return self._decodable

    def keyframe_decoded(self, at: float, width: int, height: int) -> None:
        with self._lock:
            self._decodable = True
            self._width, self._height = width, height
            self._last_frame_at = at
            self._set(CameraState.ONLINE, None, "", at)

    def failed(self, state: CameraState, code: str, reason: str, at: float) -> None:
        with self._lock:
            self._decodable = False
            self._packets.clear()
            self._set(state, code, reason, at)

    # --- read by anyone ---

    @property
    def decodable(self) -> bool:
        return self._decodable

    @property
    def state(self) -> CameraState:
        return self._state

    @property
    def last_frame_at(self) -> float | None:
        return self._last_frame_at

    def health(self, now: float) -> CameraHealth:
        with self._lock:
            while self._retries and now - self._retries[0] > HOUR:
                self._retries.popleft()
            fps, bitrate = _rates(self._packets) if self._state is CameraState.ONLINE else (None, None)
            return CameraHealth(
                camera_id=self.camera_id,
                window_id=self.window_id,
                state=self._state,
                reason=self._reason,
                reason_code=self._code,
                fps=fps,
                width=self._width,
                height=self._height,
                bitrate=bitrate,
                last_frame_at=_instant(self._last_frame_at),
                reconnects=len(self._retries),
                since=_instant(self._since),
                reported_at=_instant(now),
            )

    def _set(self, state: CameraState, code: str | None, reason: str, at: float) -> None:
        if (state, code) != (self._state, self._code):
            self._state, self._code, self._reason, self._since = state, code, reason, at
            self.changes += 1


def _rates(packets: deque[tuple[float, float | None, int]]) -> tuple[float | None, int | None]:
    """fps and bits per second from the packets' own timestamps (not their arrival times)."""
    timed = [(pts, size) for _, pts, size in packets if pts is not None]
    if len(timed) < 2:
        return None, None
    first, last = min(p for p, _ in timed), max(p for p, _ in timed)
    span = last - first
    if span <= 0:
        return None, None
    fps = (len(timed) - 1) / span
    bits = 8 * sum(size for _, size in timed[1:])
    return round(fps, 2), int(bits / span)


def _instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


# --- Redis ---


def write(pipe, health: CameraHealth) -> None:
    """Queue the record's write and announcement on `pipe` (a Redis pipeline)."""
    body = health.to_json()
    pipe.set(keys.health(health.camera_id), body, ex=KEEP_RECORD)
    pipe.publish(keys.HEALTH_CHANNEL, body)


def read_all(redis) -> dict[str, CameraHealth]:
    """Every camera's latest record, by camera_id (as stored; see :meth:`CameraHealth.seen_at`)."""
    names = sorted(_text(k) for k in redis.scan_iter(match=keys.health("*"), count=1000))
    records: dict[str, CameraHealth] = {}
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        for name, raw in zip(chunk, redis.mget(chunk)):
            if raw is not None and keys.camera_id_of_health_key(name) is not None:
                health = _parse(raw)
                if health is not None:
                    records[health.camera_id] = health
    return records


def read(redis, camera_id: str) -> CameraHealth | None:
    raw = redis.get(keys.health(camera_id))
    return None if raw is None else _parse(raw)


def snapshot_and_subscribe(redis):
    """(records by camera_id, a subscribed PubSub): subscribed first, so no change falls between."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.HEALTH_CHANNEL)
    return read_all(redis), pubsub


def parse_message(message: dict) -> CameraHealth | None:
    """The record in a pub/sub message from :func:`snapshot_and_subscribe`, or None."""
    return _parse(message.get("data")) if message and message.get("type") == "message" else None


def _parse(raw) -> CameraHealth | None:
    try:
        return CameraHealth.from_json(raw)
    except (ValueError, TypeError):
        return None  # a record from a newer version or garbage: skip it, do not crash a reader


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
