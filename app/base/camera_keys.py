"""Redis names written by the camera workers (``supervise video``), read by the ingest and the dashboards.

Every value is JSON with a ``version`` field, described by one typed model,
except the JPEG bytes of a thumbnail. Camera ids appear in keys; camera URLs
and passwords never appear in any key or value.

``supervise:camera:<camera_id>:health``   string, JSON :class:`app.base.camera_messages.CameraHealth`.
    The camera's latest health, rewritten on every change and at least every
    ``health_interval`` seconds. Kept for a day; a record older than
    ``stale_after`` means its worker is gone (readers derive that, see
    :meth:`~video.health.CameraHealth.seen_at`).
``supervise:camera-health``               pub/sub channel, the same JSON on every write.
    Subscribe first, then read the keys (:func:`video.health.snapshot_and_subscribe`).
``supervise:camera:<camera_id>:thumb``    hash, expires after ``thumbnail_ttl`` seconds:
    ``jpeg`` (bytes), ``taken_at`` (ISO 8601), ``version``. The latest keyframe
    as a still (:func:`video.thumbnails.latest`).
``supervise:camera-outages``              stream (XADD, capped), JSON :class:`app.base.camera_messages.OutageEvent`
    in field ``event``: camera_offline begins (``ended_at`` null) and ends.
``supervise:camera-evidence:requests``    pub/sub channel, JSON :class:`video.evidence.EvidenceRequest`:
    "keep a still of this camera now", answered by the worker that pulls it
``supervise:camera-evidence:reply:<request_id>``  list, one JSON :class:`video.evidence.EvidenceReply`,
    expires after a minute.
``supervise:video:members``               sorted set: each ``supervise video`` process (member name) scored
    by its last heartbeat on the Redis clock (:mod:`video.membership`).
"""

from __future__ import annotations

PREFIX = "supervise:camera:"
HEALTH_CHANNEL = "supervise:camera-health"
OUTAGE_STREAM = "supervise:camera-outages"
EVIDENCE_REQUESTS = "supervise:camera-evidence:requests"
VIDEO_MEMBERS = "supervise:video:members"


def health(camera_id: str) -> str:
    return f"{PREFIX}{camera_id}:health"


def thumbnail(camera_id: str) -> str:
    return f"{PREFIX}{camera_id}:thumb"


def evidence_reply(request_id: str) -> str:
    return f"supervise:camera-evidence:reply:{request_id}"


def camera_id_of_health_key(key: str) -> str | None:
    if key.startswith(PREFIX) and key.endswith(":health"):
        return key[len(PREFIX) : -len(":health")]
    return None
