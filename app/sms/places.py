"""Names of centers and windows for the SMS text, read from the exchange database.

Only the ids a message needs are read, and remembered for a while; an
unreachable exchange database costs the names, never the message.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from app.base import exchange, outage

log = logging.getLogger(__name__)

TTL_SECONDS = 600.0


class ExchangeNames:
    """Callable (center_id, window_id) -> (center name, window label)."""

    def __init__(self, engine: Engine, ttl: float = TTL_SECONDS, monotonic=time.monotonic):
        self.engine = engine
        self.ttl = ttl
        self._monotonic = monotonic
        self._centers: dict[str, tuple[float, str | None]] = {}
        self._windows: dict[str, tuple[float, str | None]] = {}

    def __call__(self, center_id: str | None, window_id: str | None) -> tuple[str | None, str | None]:
        center = self._lookup(self._centers, exchange.centers, "center_id", "name", center_id)
        label = self._lookup(self._windows, exchange.windows, "window_id", "label", window_id)
        return center, label

    def _lookup(self, cache: dict, table, key: str, column: str, value: str | None) -> str | None:
        if not value:
            return None
        now = self._monotonic()
        hit = cache.get(value)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            with self.engine.connect() as conn:
                name = conn.execute(select(table.c[column]).where(table.c[key] == value)).scalar()
        except SQLAlchemyError as exc:
            if not outage.transient(exc):  # an outage has its own lines (app.base.outage)
                log.warning("cannot read %s %s from the exchange database: %s", key, value, outage.describe(exc))
            return None
        cache[value] = (now, name)
        return name
