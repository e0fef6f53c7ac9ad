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
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis as redis_lib
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from app.base import outage
from app.base.alarm_stream import AlarmChange, read_after, snapshot_position
from app.base.messaging import RETRY_FIRST, RETRY_MAX
from app.base.tables import evidence as evidence_table
from video import redact
from video.evidence import evidence_row

log = logging.getLogger(__name__)

FRESH = timedelta(minutes=2)  # an alarm older than this at its publication gets no still
REMEMBERED = 10_000  # change ids already handled, so that nothing is done twice


def wants_evidence(change: AlarmChange, now: datetime) -> bool:
    return (
        change.action == "fired"
        and change.level == "alarm"
        and change.window_id is not None
        and now - change.fired_at <= FRESH
    )


def follow(
    redis,
    pool,
    db: Engine,
    var_dir: Path,
    camera_of_window: Callable[[str], str | None],
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Run until `stop`: keep evidence for each fresh red alarm at a window this pool watches.

    A Redis or database outage is waited out (the Redis link logs it once), and reading
    resumes where it stopped, so an alarm published when Redis comes back still gets its
    still if it is fresh. Nothing is done twice for one change (its change id)."""
    position: str | None = None
    pending: list[AlarmChange] = []  # read, not yet handled: the first is tried again after a failure
    handled: OrderedDict[int, None] = OrderedDict()
    delay = RETRY_FIRST
    while not stop.is_set():
        try:
            if not pending:
                if position is None:
                    position = snapshot_position(redis)
                position, pending = read_after(redis, position, block_ms=1000)
            while pending and not stop.is_set():
                change = pending[0]
                if change.change_id is None or change.change_id not in handled:
                    _handle(change, pool, db, var_dir, camera_of_window, clock)
                    handled[change.change_id] = None
                    if len(handled) > REMEMBERED:
                        handled.popitem(last=False)
                pending.pop(0)
            delay = RETRY_FIRST
        except redis_lib.RedisError as exc:  # the link to Redis logs the outage, once
            log.debug("cannot read the alarm stream: %s", redact.describe(exc))
            stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX)
        except SQLAlchemyError as exc:  # the change is looked at again once the database is back
            if not outage.transient(exc):  # an outage has its own lines (app.base.outage)
                log.warning(
                    "cannot record alarm evidence now (%s); retrying", redact.describe(getattr(exc, "orig", exc))
                )
            stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX)
        except Exception:
            log.exception("alarm evidence: unexpected failure; carrying on")
            stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX)


def _handle(change: AlarmChange, pool, db: Engine, var_dir: Path, camera_of_window, clock) -> None:
    camera_id = camera_of_window(change.window_id) if change.window_id else None
    if camera_id is None or camera_id not in pool.camera_ids or not wants_evidence(change, clock()):
        return
    if _already_kept(db, change.alarm_id):
        return
    keep(pool, db, var_dir, camera_id, change, clock())


def _already_kept(db: Engine, alarm_id: int) -> bool:
    """Evidence kept by the system for this alarm already (by another process, or before a restart)."""
    with db.connect() as conn:
        return (
            conn.execute(
                select(evidence_table.c.id)
                .where(evidence_table.c.alarm_id == alarm_id, evidence_table.c.requested_by == "system")
                .limit(1)
            ).first()
            is not None
        )


def keep(pool, db: Engine, var_dir: Path, camera_id: str, change: AlarmChange, now: datetime) -> int | None:
    """Capture and record evidence for `change`; the evidence row's id, or None if the camera has no picture."""
    try:
        sidecar = pool.keep_evidence(camera_id, requested_by="system")
    except Exception as exc:
        log.warning("no evidence for alarm %s at camera %s: %s", change.alarm_id, camera_id, redact.describe(exc))
        return None
    row = evidence_row(
        sidecar,
        var_dir,
        camera_id=camera_id,
        window_id=change.window_id,
        captured_at=now,
        requested_by="system",
        case_no=change.case_no,
        alarm_id=change.alarm_id,
    )
    with db.begin() as conn:
        return conn.execute(insert(evidence_table).values(**row).returning(evidence_table.c.id)).scalar_one()
