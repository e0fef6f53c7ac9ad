"""How camera workers behave: timeouts, intervals, retry schedules, buffer sizes.

One typed model with a default, bounds and a description per knob. The three
that the whole system shares (offline threshold, thumbnail interval and TTL)
come from :class:`app.settings.Settings`; the rest are tuned here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VideoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    open_timeout: float = Field(10.0, gt=0, description="Seconds to connect, authenticate and learn the stream.")
    read_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a read may wait for data: a hung camera is detected "
        "within about twice this (FFmpeg hands out what it buffered).",
    )
    offline_after: float = Field(
        30.0, gt=0, description="No decodable frame for this long is an outage (camera_offline)."
    )
    thumbnail_interval: float = Field(5.0, gt=0, description="Seconds between thumbnails of a camera.")
    thumbnail_ttl: int = Field(120, gt=0, description="Seconds a thumbnail lives in Redis.")
    thumbnail_width: int = Field(640, ge=64, description="Thumbnails wider than this are scaled down.")
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality of thumbnails, stills and evidence.")
    keyframe_ring: int = Field(6, ge=1, le=100, description="Recent keyframes kept in memory per camera, for evidence.")
    health_interval: float = Field(5.0, gt=0, description="Seconds between health reports of an unchanged camera.")
    stale_after: float = Field(30.0, gt=0, description="A health report older than this means its worker is gone.")
    retry_base: float = Field(1.0, gt=0, description="First retry window (s) after a camera went offline.")
    retry_cap: float = Field(15.0, gt=0, description="Longest retry window (s) for an offline camera.")
    error_retry_base: float = Field(
        30.0, gt=0, description="First retry window (s) after a configuration error (401, 404)."
    )
    error_retry_cap: float = Field(300.0, gt=0, description="Longest retry window (s) after configuration errors.")
    start_spread: float = Field(5.0, ge=0, description="First connections are spread at random over this many seconds.")
    live_queue: int = Field(250, ge=10, description="Fragments buffered per live viewer before a slow one is dropped.")

    @classmethod
    def from_settings(cls, settings, **overrides) -> VideoConfig:
        """The config for `settings` (an :class:`app.settings.Settings`), with `overrides` on top."""
        shared = {
            "offline_after": settings.camera_offline_seconds,
            "thumbnail_interval": settings.thumbnail_interval,
            "thumbnail_ttl": settings.thumbnail_ttl,
        }
        return cls(**{**shared, **overrides})
