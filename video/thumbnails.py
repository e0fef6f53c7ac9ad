"""The latest picture of each camera, in Redis, for walls, tiles and snapshots.

A thumbnail is a keyframe decoded every ``thumbnail_interval`` seconds, scaled
to at most ``thumbnail_width`` pixels and stored as JPEG in the hash
``supervise:camera:<camera_id>:thumb`` (fields ``jpeg``, ``taken_at``,
``version``) that expires after ``thumbnail_ttl`` seconds: a camera that stops
delivering loses its picture instead of showing a frozen one forever.

The Redis client must return bytes (``decode_responses=False``).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from app.base import camera_keys as keys

VERSION = 1


class Thumbnail(NamedTuple):
    jpeg: bytes
    taken_at: datetime  # when the keyframe arrived


def write(pipe, camera_id: str, thumbnail: Thumbnail, ttl: int) -> None:
    """Queue the thumbnail's write on `pipe` (a Redis pipeline or client)."""
    key = keys.thumbnail(camera_id)
    pipe.hset(key, mapping={"jpeg": thumbnail.jpeg, "taken_at": thumbnail.taken_at.isoformat(), "version": VERSION})
    pipe.expire(key, ttl)


def latest(redis, camera_id: str) -> Thumbnail | None:
    """The camera's newest thumbnail, or None if it has none (never had one, or it expired)."""
    fields = redis.hmget(keys.thumbnail(camera_id), ["jpeg", "taken_at"])
    jpeg, taken_at = fields
    if not jpeg or not taken_at:
        return None
    try:
        return Thumbnail(
            bytes(jpeg), datetime.fromisoformat(taken_at.decode() if isinstance(taken_at, bytes) else taken_at)
        )
    except ValueError:
        return None
