"""The camera workers' Redis messages: one typed model per topic, each with a ``version`` field.

Written by ``video/`` and read by ``ingest/`` (camera outages become camera_offline
alarms) and the dashboards (camera health); the Redis names are in
:mod:`app.base.camera_keys`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class CameraState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


class CameraHealth(BaseModel):
    """What `supervise cameras` prints and the dashboards show, for one camera."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    camera_id: str
    window_id: str | None = None
    state: CameraState
    reason: str = ""  # for a person: "401 unauthorized: wrong user name or password"
    reason_code: str | None = None  # for a program: "unauthorized", "timeout", "ended", …
    fps: float | None = None  # measured from packet timestamps
    width: int | None = None
    height: int | None = None
    bitrate: int | None = None  # bits per second, measured from packet sizes
    last_frame_at: datetime | None = None  # last decodable frame
    reconnects: int = 0  # connection attempts in the last hour after a failure or a lost stream
    since: datetime  # when the current state began
    reported_at: datetime
    member: str | None = None  # the `supervise video` process pulling it (video.membership)

    def seen_at(self, now: datetime, stale_after: float) -> CameraHealth:
        """This record as it should be read at `now`: stale reports mean the worker is gone."""
        if (now - self.reported_at).total_seconds() <= stale_after:
            return self
        return self.model_copy(
            update={
                "state": CameraState.OFFLINE,
                "reason_code": "no_report",
                "fps": None,
                "bitrate": None,
                "reason": f"no report from its worker since {self.reported_at.isoformat(timespec='seconds')}",
            }
        )

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> CameraHealth:
        return cls.model_validate_json(raw)


class OutageEvent(BaseModel):
    """One message of the outage stream (``supervise:camera-outages``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    camera_id: str
    window_id: str | None = None
    since: datetime
    ended_at: datetime | None = None
    offline_after: float
