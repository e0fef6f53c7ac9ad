"""Bulk writers into an exchange database: COPY on PostgreSQL, executemany on SQLite.

Rows arrive already in the contract's text form (see Feed.render), which both
backends take as they are: PostgreSQL parses ISO 8601 and JSON text into
TIMESTAMPTZ and JSONB; SQLite stores the text. Reference data goes through
ingest.exchange's tables instead, so that path is exercised too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from app.base import exchange
from app.simulate.region import Region, reference_rows

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "case_no",
    "kind",
    "occurred_at",
    "recorded_at",
    "source_system",
    "center_id",
    "dept_id",
    "window_id",
    "staff_id",
    "item_code",
    "payload",
)
RATING_COLUMNS = ("case_no", "window_id", "staff_id", "score", "rated_at")


def write_reference(engine: Engine, region: Region) -> bool:
    """Write the region's reference tables unless they hold data already; True if written."""
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(exchange.centers)).scalar_one():
            log.info("reference tables already filled; left as they are")
            return False
        rows = reference_rows(region)
        for table in exchange.REFERENCE_TABLES:
            conn.execute(table.insert(), rows[table.name])
    return True


class PostgresWriter:
    """COPY into case_events and onsite_ratings, one transaction per call, on its own connection."""

    def __init__(self, engine: Engine):
        self._raw = engine.raw_connection()
        self._pg = self._raw.driver_connection
        self._pg.autocommit = True  # transactions are explicit below

    def write(self, events: list[tuple], ratings: list[tuple], before_commit: Callable[[], None] | None = None) -> None:
        with self._pg.transaction(), self._pg.cursor() as cur:
            if events:
                with cur.copy(f"COPY case_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                    for row in events:
                        copy.write_row(row)
            if ratings:
                with cur.copy(f"COPY onsite_ratings ({', '.join(RATING_COLUMNS)}) FROM STDIN") as copy:
                    for row in ratings:
                        copy.write_row(row)
            if before_commit:
                before_commit()

    def close(self) -> None:
        self._pg.autocommit = False  # as the pool handed it out
        self._raw.close()


class SqliteWriter:
    """executemany in one transaction per call."""

    def __init__(self, engine: Engine):
        self._raw = engine.raw_connection()
        self._db = self._raw.driver_connection
        self._db.isolation_level = None  # explicit BEGIN/COMMIT
        self._db.execute("PRAGMA busy_timeout=30000")
        # WAL lets the ingest read while the simulator writes; the setting stays with the file.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._events_sql = (
            f"INSERT INTO case_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        )
        self._ratings_sql = (
            f"INSERT INTO onsite_ratings ({', '.join(RATING_COLUMNS)}) VALUES ({', '.join('?' * len(RATING_COLUMNS))})"
        )

    def write(self, events: list[tuple], ratings: list[tuple], before_commit: Callable[[], None] | None = None) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(self._events_sql, events)
            self._db.executemany(self._ratings_sql, ratings)
            if before_commit:
                before_commit()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._raw.close()


def open_writer(engine: Engine) -> PostgresWriter | SqliteWriter:
    if engine.dialect.name == "postgresql":
        return PostgresWriter(engine)
    if engine.dialect.name == "sqlite":
        return SqliteWriter(engine)
    raise ValueError(f"cannot write an exchange database on {engine.dialect.name}")
