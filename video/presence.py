"""Seat presence (在岗) from keyframes: is somebody sitting at the window?

A camera worker decodes a keyframe every ``thumbnail_interval`` seconds (5 s)
for its thumbnail; :class:`SeatWatch` looks at the same picture, scaled down to
the width of a substream (320 pixels), inside the window's seat region
(:class:`SeatRegion`; a default, or one drawn by an officer). It uses what
OpenCV's pip wheel ships and no trained model at all:

- a background model of the empty seat: the region as it looked the last time
  it stayed unchanged for ``learn_after`` keyframes (2 minutes; a person at a
  desk moves within that, an empty chair does not). A person who sits still
  still differs from the empty chair. A model taken wrongly (someone motionless
  for 2 minutes, a chair moved) makes an empty seat look occupied until the
  empty seat has stood still long enough to be learnt: it errs towards
  "present", never towards a false 空岗;
- before there is a model, motion alone: the region changed since the
  previous keyframe.

A keyframe shows the seat *empty* when it looks like the empty-seat model (or,
before there is one, when nothing moved), and the picture is
*covered* when the whole frame is nearly uniform (a lens covered or turned to
a wall): then nothing is concluded, as for a camera offline. Hysteresis turns
keyframes into presence: the seat becomes empty after ``to_empty`` empty
keyframes in a row (someone bending down for a few seconds is not absent) and
occupied again after ``to_present`` occupied ones (a passer-by is not a
return). Each change is dated by its first keyframe, not by when it was
decided, with the last keyframe before and the first after it as stills.

`bench/presence.py` measures this against the demo scenes' ground truth and
against OpenCV's HOG people detector.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import redis as redis_lib

from app.base import seat as seat_messages

log = logging.getLogger(__name__)

WIDTH = 320  # pictures are looked at this wide, like a substream

PRESENT, EMPTY, UNKNOWN = "present", "empty", "unknown"


@dataclass(frozen=True, slots=True)
class SeatRegion:
    """Where the staff member sits, as fractions of the picture (left, top, width, height)."""

    left: float = 0.35
    top: float = 0.30
    width: float = 0.30
    height: float = 0.30

    def __post_init__(self) -> None:
        if not (0 <= self.left < 1 and 0 <= self.top < 1 and 0 < self.width and 0 < self.height):
            raise ValueError(f"seat region {self} is not inside the picture")
        if self.left + self.width > 1 or self.top + self.height > 1:
            raise ValueError(f"seat region {self} reaches beyond the picture")

    def crop(self, picture: np.ndarray) -> np.ndarray:
        h, w = picture.shape[:2]
        x0, y0 = round(self.left * w), round(self.top * h)
        return picture[y0 : y0 + max(1, round(self.height * h)), x0 : x0 + max(1, round(self.width * w))]


@dataclass(frozen=True, slots=True)
class Tuning:
    pixel_change: int = 30  # a channel differing by more than this is a changed pixel
    changed_share: float = 0.02  # a region with more changed pixels than this changed
    covered_std: float = 6.0  # a whole picture with less contrast than this is covered
    learn_after: int = 24  # keyframes unchanged before the region is taken as the empty seat
    to_empty: int = 3  # empty keyframes in a row before the seat counts as empty
    to_present: int = 2  # occupied keyframes in a row before it counts as occupied again


@dataclass(frozen=True, slots=True)
class SeatChange:
    """The seat became `state` at `since` (its first keyframe); stills before and after, JPEG."""

    camera_id: str
    state: str
    since: datetime
    reason: str | None = None
    before: bytes | None = None
    after: bytes | None = None


def small(frame) -> np.ndarray:
    """A decoded av.VideoFrame as a BGR array ``WIDTH`` pixels wide."""
    height = max(2, round(frame.height * WIDTH / frame.width / 2) * 2)
    return frame.reformat(width=WIDTH, height=height, format="bgr24").to_ndarray()


class SeatDetector:
    """One keyframe at a time: is the seat region occupied? Keeps the previous region and the empty-seat model."""

    def __init__(self, region: SeatRegion | None = None, tuning: Tuning | None = None) -> None:
        self.region = region or SeatRegion()
        self.tuning = tuning or Tuning()
        self._previous: np.ndarray | None = None
        self._still_for = 0
        self.empty_seat: np.ndarray | None = None  # the background model
        self.covered = False  # the last picture was nearly uniform

    def look(self, picture: np.ndarray) -> str:
        """PRESENT, EMPTY or UNKNOWN (covered) for one BGR picture."""
        t = self.tuning
        self.covered = float(picture.std()) < t.covered_std
        if self.covered:
            self._previous, self._still_for = None, 0
            return UNKNOWN
        seat = cv2.GaussianBlur(self.region.crop(picture), (3, 3), 0).astype(np.int16)
        seat -= np.int16(seat.mean()) - 128  # a light switched on is not a person
        previous, self._previous = self._previous, seat
        moved = previous is not None and self._changed(seat, previous)
        self._still_for = 0 if previous is None or moved else self._still_for + 1
        if self._still_for >= t.learn_after:
            self.empty_seat = seat
        if self.empty_seat is not None:
            return PRESENT if self._changed(seat, self.empty_seat) else EMPTY
        if previous is None:
            return UNKNOWN
        return PRESENT if moved else EMPTY  # no model yet: motion alone

    def _changed(self, a: np.ndarray, b: np.ndarray) -> bool:
        if a.shape != b.shape:
            return True
        changed = (np.abs(a - b).max(axis=2) > self.tuning.pixel_change).mean()
        return bool(changed > self.tuning.changed_share)


@dataclass
class _Run:
    state: str
    since: float
    first: np.ndarray  # its first picture, the "after" still of a change
    count: int = 1


class SeatWatch:
    """Presence of one camera's seat with hysteresis: the capture thread calls :meth:`keyframe`,
    the publisher :meth:`take_changes`."""

    def __init__(self, camera_id: str, detector: SeatDetector | None = None) -> None:
        self.camera_id = camera_id
        self.detector = detector or SeatDetector()
        self.state: str | None = None  # the decided state, None before the first decision
        self._lock = threading.Lock()
        self._changes: list[SeatChange] = []
        self._run: _Run | None = None
        self._before: np.ndarray | None = None  # the last picture that showed the decided state

    def keyframe(self, frame, at: float) -> str:
        """Look at one decoded keyframe (av.VideoFrame) received at `at` (epoch seconds)."""
        return self.picture(small(frame), at)

    def picture(self, picture: np.ndarray, at: float) -> str:
        seen = self.detector.look(picture)
        if seen == UNKNOWN and not self.detector.covered:
            return seen  # a first picture, nothing to compare it with yet
        t = self.detector.tuning
        needed = {PRESENT: t.to_present, EMPTY: t.to_empty, UNKNOWN: 1}[seen]
        with self._lock:
            run = self._run
            if run is None or run.state != seen:
                run = self._run = _Run(seen, at, picture)
            else:
                run.count += 1
            if run.count >= needed and seen != self.state:
                reason = "covered" if seen == UNKNOWN else None
                self._changes.append(
                    SeatChange(self.camera_id, seen, _instant(run.since), reason, jpeg(self._before), jpeg(run.first))
                )
                self.state = seen
            if seen == self.state:
                self._before = picture
        return seen

    def lost(self, at: float, reason: str) -> None:
        """The view is lost (camera offline): nothing can be said until keyframes come back."""
        with self._lock:
            self._run = None
            if self.state != UNKNOWN:
                self._changes.append(SeatChange(self.camera_id, UNKNOWN, _instant(at), reason, jpeg(self._before)))
                self.state = UNKNOWN

    def take_changes(self) -> list[SeatChange]:
        with self._lock:
            changes, self._changes = self._changes, []
        return changes


def jpeg(picture: np.ndarray | None, quality: int = 80) -> bytes | None:
    if picture is None:
        return None
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return encoded.tobytes() if ok else None


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# --- publishing: from the workers of a pool to the seat-presence stream --------------------------


def follow(pool, redis, window_of, var_dir: Path, stop: threading.Event, interval: float = 1.0) -> None:
    """Until `stop`: give every worker of `pool` a SeatWatch and append their changes to the
    ``supervise:seat-presence`` stream (app/base/seat.py), stills under ``<var_dir>/evidence/seat/``.
    A Redis outage delays the messages (kept in order, up to 10,000); it never stalls a camera."""
    backlog: deque[seat_messages.SeatEvent] = deque(maxlen=10_000)
    while not stop.wait(interval):
        publish_round(pool, redis, window_of, var_dir, backlog)


def publish_round(pool, redis, window_of, var_dir: Path, backlog: deque) -> None:
    for camera_id in pool.camera_ids:
        worker = pool.worker(camera_id)
        if worker is None:
            continue
        if worker.seat is None:
            worker.seat = SeatWatch(camera_id)
        if worker.outage.open_since is not None:
            worker.seat.lost(worker.outage.open_since, "offline")
        for change in worker.seat.take_changes():
            backlog.append(_event(change, window_of(camera_id), var_dir))
    while backlog:
        try:
            seat_messages.append(redis, backlog[0])
        except redis_lib.RedisError:
            return  # kept for the next round; the Redis link logs the outage
        backlog.popleft()


def _event(change: SeatChange, window_id: str | None, var_dir: Path) -> seat_messages.SeatEvent:
    stamp = change.since.strftime("%Y%m%dT%H%M%S")
    stills = {}
    for name, picture in (("before", change.before), ("after", change.after)):
        if picture is None:
            stills[name] = None
            continue
        relative = Path("evidence", "seat", change.camera_id, f"{stamp}-{change.state}-{name}.jpg")
        try:
            (var_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (var_dir / relative).write_bytes(picture)
            stills[name] = str(relative)
        except OSError as exc:
            log.warning("cannot keep the seat still %s: %s", relative, exc)
            stills[name] = None
    return seat_messages.SeatEvent(
        camera_id=change.camera_id,
        window_id=window_id,
        state=change.state,
        since=change.since,
        reason=change.reason,
        **stills,
    )
