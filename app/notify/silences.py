"""Silences: an officer mutes matching alarms for a while, with a note (as Alertmanager's).

A silence is pending, active or expired by its two instants alone (``rules.routing.Silence``);
ending one early sets its end to now. Every silence made or ended is in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from app.base.tables import audit_log, silences
from rules.routing import Silence, parse_matchers


def add(
    engine: Engine,
    matchers: dict[str, list[str]],
    starts_at: datetime,
    ends_at: datetime,
    *,
    by: str,
    note: str,
    now: datetime,
) -> int:
    parse_matchers(matchers)  # refuses an unknown label or level, in one line
    if not matchers:
        raise ValueError("a silence needs at least one --match (a silence of everything is not allowed)")
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    if not note.strip():
        raise ValueError("a silence needs a note saying why")
    with engine.begin() as conn:
        silence_id = conn.execute(
            insert(silences)
            .values(matchers=matchers, starts_at=starts_at, ends_at=ends_at, created_by=by, note=note, created_at=now)
            .returning(silences.c.id)
        ).scalar_one()
        conn.execute(
            insert(audit_log).values(
                at=now,
                actor=by,
                action="silence_add",
                target=f"silence:{silence_id}",
                detail={
                    "matchers": matchers,
                    "starts_at": starts_at.isoformat(),
                    "ends_at": ends_at.isoformat(),
                    "note": note,
                },
            )
        )
    return silence_id


def expire(engine: Engine, silence_id: int, *, by: str, now: datetime) -> bool:
    """End a silence now; False if there is no such silence or it had ended already."""
    with engine.begin() as conn:
        done = conn.execute(
            update(silences).where(silences.c.id == silence_id, silences.c.ends_at > now).values(ends_at=now)
        ).rowcount
        if done:
            conn.execute(
                insert(audit_log).values(
                    at=now, actor=by, action="silence_expire", target=f"silence:{silence_id}", detail={}
                )
            )
    return bool(done)


def listing(engine: Engine, now: datetime, limit: int | None = None) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(silences).order_by(silences.c.id.desc()).limit(limit)).mappings().all()
    out = []
    for row in rows:
        silence = Silence(row["id"], parse_matchers(row["matchers"]), row["starts_at"], row["ends_at"])
        out.append({**dict(row), "state": silence.state_at(now)})
    return out
