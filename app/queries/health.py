"""Is the data fresh: when the ingest last wrote, and whether the calendar covers this year."""

from __future__ import annotations

import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select, text

from app.base.tables import cases, ingest_cursor

PROBE_SECONDS = 2.0  # /healthz answers within about this, whatever the databases do
CONTRACT_CHECK_SECONDS = 60.0
_prober = ThreadPoolExecutor(max_workers=4, thread_name_prefix="web.health-probe")
_probes: weakref.WeakKeyDictionary[Engine, Future] = weakref.WeakKeyDictionary()
_probes_lock = threading.Lock()
_contract_checks: weakref.WeakKeyDictionary[Engine, tuple[float, list[str]]] = weakref.WeakKeyDictionary()


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

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def database_ok(engine: Engine, within: float = PROBE_SECONDS) -> bool:
    """Does the database run a statement within `within` seconds? A hung database would
    hold the probe until its link is cut (app.base.link_watch), so the answer does not wait
    for it: one probe per engine at a time, and no answer in time is a no."""
    with _probes_lock:
        probe = _probes.get(engine)
        if probe is None or probe.done():
            probe = _probes[engine] = _prober.submit(_answers, engine)
    try:
        return probe.result(timeout=within)
    except FutureTimeout:
        return False


def _answers(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def exchange_problem(engine: Engine, within: float = PROBE_SECONDS) -> str | None:
    """What is wrong with the exchange database, in a few words; None when nothing is.
    Its contract tables are looked at once a minute (they change with a migration of
    the region's office, not by the second)."""
    if not database_ok(engine, within):
        return "unreachable"
    checked_at, missing = _contract_checks.get(engine, (0.0, []))
    if time.monotonic() - checked_at > CONTRACT_CHECK_SECONDS:
        from app.base.exchange import missing_from_contract

        try:
            missing = missing_from_contract(engine)
        except Exception:
            return "unreachable"
        _contract_checks[engine] = (time.monotonic(), missing)
    return f"lacks {', '.join(missing)}" if missing else None
