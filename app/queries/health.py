"""Is the data fresh: when the ingest last wrote, and whether the calendar covers this year."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, text

from app.tables import cases, ingest_cursor


@dataclass(frozen=True)
class Freshness:
    last_ingest: datetime | None  # newest of cases.judged_at and ingest_cursor.updated_at
    age_seconds: float | None


def freshness(engine: Engine, now: datetime) -> Freshness:
    with engine.connect() as conn:
        judged = conn.execute(select(func.max(cases.c.judged_at))).scalar()
        cursor = conn.execute(select(func.max(ingest_cursor.c.updated_at))).scalar()
    judged, cursor = (_aware(v) for v in (judged, cursor))
    newest = max((v for v in (judged, cursor) if v is not None), default=None)
    return Freshness(newest, (now - newest).total_seconds() if newest else None)


def _aware(value):
    # max() over a UtcDateTime column comes back raw on SQLite (text or naive).
    from datetime import timezone

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def database_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
