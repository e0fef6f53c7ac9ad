"""camera_offline (摄像头离线): no decodable frame for ``offline_after`` seconds.

An outage is described by two instants, as :func:`rules.cameras.camera_offline`
wants them: ``since``, the last decodable frame (or, for a camera that never
gave one, the moment watching began), and ``ended_at``, the first decodable
frame after it (None while it lasts). The alarm's fired_at is
``since + offline_after``, not the moment a worker noticed; a gap that was only
noticed when frames were already back is still reported, whole.

The hook ``on_outage(camera_id, since, ended_at)`` is called once when an
outage begins (``ended_at=None``) and once when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from app.base import camera_keys as keys
from app.base.camera_messages import OutageEvent

OutageHook = Callable[[str, datetime, "datetime | None"], None]


class OutageWatch:
    """Decides, from frame arrival times, when one camera's outages begin and end.

    :meth:`frame` is called by the capture thread for each decodable frame,
    :meth:`check` by a timer; both take the time as epoch seconds.
    """

    def __init__(self, offline_after: float, watching_since: float) -> None:
        self.offline_after = offline_after
        self._lock = threading.Lock()
        self._last = watching_since
        self._open_since: float | None = None
        self._back_at: float | None = None
        self._noticed_late: list[tuple[float, float]] = []

    def frame(self, at: float) -> None:
        with self._lock:
            if self._open_since is not None:
                if self._back_at is None:
                    self._back_at = at
            elif at - self._last >= self.offline_after:
                self._noticed_late.append((self._last, at))  # the timer missed this gap: report it whole
            self._last = at

    def check(self, now: float) -> list[tuple[float, float | None]]:
        """Outage changes since the last check, as (since, ended_at or None), oldest first."""
        with self._lock:
            changes: list[tuple[float, float | None]] = list(self._noticed_late)
            self._noticed_late.clear()
            if self._open_since is None:
                if now - self._last >= self.offline_after:
                    self._open_since = self._last
                    changes.append((self._last, None))
            elif self._back_at is not None:
                changes.append((self._open_since, self._back_at))
                self._open_since = self._back_at = None
            return changes

    @property
    def open_since(self) -> float | None:
        return self._open_since


def instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def stream_hook(
    redis, window_of: Callable[[str], str | None], offline_after: float, maxlen: int = 100_000
) -> OutageHook:
    """An ``on_outage`` hook that appends each change to the ``supervise:camera-outages`` stream.

    A stream, not pub/sub: the rules engine may be down or restarting when an
    outage begins, and it must still see it later.
    """

    def on_outage(camera_id: str, since: datetime, ended_at: datetime | None) -> None:
        event = OutageEvent(
            camera_id=camera_id,
            window_id=window_of(camera_id),
            since=since,
            ended_at=ended_at,
            offline_after=offline_after,
        )
        redis.xadd(keys.OUTAGE_STREAM, {"event": event.model_dump_json()}, maxlen=maxlen, approximate=True)

    return on_outage
