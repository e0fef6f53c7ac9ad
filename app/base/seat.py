"""Seat presence messages (在岗/空岗), from the camera workers to the ingest.

The video workers (:mod:`video.presence`) append each change of a window's
seat, as decided with hysteresis, to the Redis stream ``supervise:seat-presence``
(field ``event``, JSON :class:`SeatEvent`); the ingest reads it in its cycle
(:mod:`ingest.presence_alarms`) and raises 空岗 by :mod:`rules.presence`. A
stream, not pub/sub, so an ingest that is down or restarting still sees every
change later; video/ and ingest/ meet only here.

``state`` is ``present``, ``empty`` or ``unknown`` (the view is lost: the camera
is offline or covered, ``reason`` says which); ``since`` is the first keyframe
that showed it. ``before`` and ``after`` are the stills of the change (the last
keyframe of the old state, the first of the new), paths relative to
SUPERVISE_VAR_DIR, or None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

STREAM = "supervise:seat-presence"
MAXLEN = 100_000


class SeatEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    camera_id: str
    window_id: str | None = None
    state: Literal["present", "empty", "unknown"]
    since: datetime
    reason: str | None = None
    before: str | None = None
    after: str | None = None


def append(redis, event: SeatEvent, maxlen: int = MAXLEN) -> None:
    redis.xadd(STREAM, {"event": event.model_dump_json()}, maxlen=maxlen, approximate=True)
