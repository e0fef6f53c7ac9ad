"""Window cameras (窗口视频): when a camera counts as offline.

A camera that gives no decodable frame for `threshold` (30 s by default,
configurable) is offline from last_frame_at + threshold: that is the alarm's
fired_at, not the moment a worker noticed. One alarm per outage: its subject is
the instant of the last good frame. It ends when frames come back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rules.alarms import AlarmFact, make_fact

OFFLINE_AFTER = timedelta(seconds=30)


def camera_offline(
    camera_id: str,
    last_frame_at: datetime,
    now: datetime,
    *,
    threshold: timedelta = OFFLINE_AFTER,
    frames_back_at: datetime | None = None,
    place: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
) -> AlarmFact | None:
    """camera_offline: no decodable frame since `last_frame_at` for `threshold`.

    `last_frame_at` is the last good frame (or, for a camera that never gave one, the
    moment watching began); `frames_back_at` the first good frame after it, if any.
    `place` is (center, dept, window, staff) of the camera's window.
    """
    fired_at = last_frame_at + threshold
    if fired_at > now or (frames_back_at is not None and frames_back_at < fired_at):
        return None
    ended_at = frames_back_at if frames_back_at is not None and frames_back_at <= now else None
    return make_fact(
        "camera_offline",
        case_no=None,
        subject=last_frame_at.isoformat(),
        fired_at=fired_at,
        ended_at=ended_at,
        due=None,
        place=place,
        camera_id=camera_id,
    )
