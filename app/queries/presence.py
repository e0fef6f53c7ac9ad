"""空岗 where people see it: which cameras' windows have a 空岗 open now."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, select

from app.base.tables import alarms
from rules.presence import KINDS, RED


def unattended(engine: Engine, camera_ids: Collection[str]) -> dict[str, str]:
    """camera_id -> the kind of its open 空岗 (the red one when both are open), for those that have one."""
    if not camera_ids:
        return {}
    query = select(alarms.c.camera_id, alarms.c.kind).where(
        alarms.c.kind.in_(KINDS), alarms.c.state != "closed", alarms.c.camera_id.in_(list(camera_ids))
    )
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for camera_id, kind in conn.execute(query):
            if found.get(camera_id) != RED:
                found[camera_id] = kind
    return found
