"""Evidence kept by itself when an alarm fires for a window (issue: "when an
alarm fires for a window, store a still of that window's camera").

Follows the alarm stream (``supervise:alarms``) from the moment it starts; for
each red alarm just fired at a window whose camera this process pulls, it keeps
a still plus the keyframes of the seconds before, and records them in the
supervision database linked to the alarm and its case. An alarm that fired
long ago (a backfill, late data) gets none: a still of the window *now* would
prove nothing about then.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, insert

from app.tables import evidence as evidence_table
from ingest.publisher import AlarmChange, read_after, snapshot_position
from video import redact
from video.evidence import evidence_row

log = logging.getLogger(__name__)

FRESH = timedelta(minutes=2)  # an alarm older than this at its publication gets no still


def wants_evidence(change: AlarmChange, now: datetime) -> bool:
    return change.action == "fired" and change.level == "alarm" and change.window_id is not None \
        and now - change.fired_at <= FRESH


def follow(redis, pool, db: Engine, var_dir: Path, camera_of_window: Callable[[str], str | None],
           stop: threading.Event, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
    """Run until `stop`: keep evidence for each fresh red alarm at a window this pool watches."""
    position = snapshot_position(redis)
    while not stop.is_set():
        try:
            position, changes = read_after(redis, position, block_ms=1000)
        except Exception as exc:  # noqa: BLE001 - Redis may restart; try again shortly
            log.warning("cannot read the alarm stream: %s", redact.describe(exc))
            stop.wait(2.0)
            continue
        for change in changes:
            camera_id = camera_of_window(change.window_id) if change.window_id else None
            if camera_id is None or camera_id not in pool.camera_ids or not wants_evidence(change, clock()):
                continue
            keep(pool, db, var_dir, camera_id, change, clock())


def keep(pool, db: Engine, var_dir: Path, camera_id: str, change: AlarmChange, now: datetime) -> int | None:
    """Capture and record evidence for `change`; the evidence row's id, or None if the camera has no picture."""
    try:
        sidecar = pool.keep_evidence(camera_id, requested_by="system")
    except Exception as exc:  # noqa: BLE001 - no picture yet (camera offline): nothing to keep
        log.warning("no evidence for alarm %s at camera %s: %s", change.alarm_id, camera_id, redact.describe(exc))
        return None
    row = evidence_row(sidecar, var_dir, camera_id=camera_id, window_id=change.window_id, captured_at=now,
                       requested_by="system", case_no=change.case_no, alarm_id=change.alarm_id)  # fmt: skip
    with db.begin() as conn:
        return conn.execute(insert(evidence_table).values(**row).returning(evidence_table.c.id)).scalar_one()
