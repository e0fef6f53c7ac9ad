"""Reads new rows from the exchange database, with the snapshot that proves
which writers were still in flight (see :mod:`ingest.tailer`).

PostgreSQL is read on the driver's own cursor in binary, so its C loaders
build the instants and no per-value adapter runs in Python; the payload comes
as its JSON text. An instant Python cannot hold ('infinity', year 20000) comes
as its text instead, for rules to reject with a reason. SQLite is read with a
plain SELECT; its values are already text. Either way the rows are handed on
raw: judging them is ``rules``' job.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.types.datetime import TimestamptzBinaryLoader
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app.base.exchange import text_or_bytes
from ingest.tailer import Cursor, Snapshot

EVENT_COLUMNS = (
    "event_id",
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
RATING_COLUMNS = ("rating_id", "case_no", "window_id", "staff_id", "score", "rated_at")
_COLUMNS = {"case_events": EVENT_COLUMNS, "onsite_ratings": RATING_COLUMNS}
_ID = {"case_events": "event_id", "onsite_ratings": "rating_id"}
_INSTANTS = {"case_events": ("occurred_at", "recorded_at"), "onsite_ratings": ("rated_at",)}

# Python's datetime holds years 1..9999; a day's margin keeps every time zone inside.
_HOLDABLE = "{0} BETWEEN '0001-01-02' AND '9999-12-30'"


def _pg_select(source: str) -> str:
    """The source's columns, then for each instant its text where Python cannot hold it."""
    instants = _INSTANTS[source]
    columns = [
        f"CASE WHEN {_HOLDABLE.format(c)} THEN {c} END" if c in instants else "payload::text" if c == "payload" else c
        for c in _COLUMNS[source]
    ]
    columns += [f"CASE WHEN NOT {_HOLDABLE.format(c)} THEN {c}::text END" for c in instants]
    return ", ".join(columns)


@dataclass(frozen=True)
class Batch:
    source: str
    rows: list[tuple]
    snapshot: Snapshot
    max_id: int  # the largest id in the table at the snapshot (for lag)

    @property
    def ids(self) -> list[int]:
        return [row[0] for row in self.rows]


def read_batch(engine: Engine, source: str, cursor: Cursor, limit: int) -> Batch:
    """Rows of `source` the cursor has not taken in: up to `limit` above it, plus any open gap ids."""
    if engine.dialect.name == "postgresql":
        return _read_postgres(engine, source, cursor, limit)
    return _read_sqlite(engine, source, cursor, limit)


def _read_sqlite(engine: Engine, source: str, cursor: Cursor, limit: int) -> Batch:
    id_col, cols = _ID[source], ", ".join(_COLUMNS[source])
    query = text(f"SELECT {cols} FROM {source} WHERE {id_col} > :start ORDER BY {id_col} LIMIT :limit")
    with engine.connect() as conn:
        rows = _sqlite_rows(conn, query, {"start": cursor.read_from, "limit": limit})
        max_id = conn.execute(text(f"SELECT coalesce(max({id_col}), 0) FROM {source}")).scalar_one()
    fresh = [tuple(r) for r in rows if cursor.is_new(r[0])]
    return Batch(source, fresh, Snapshot(serialised_writers=True), int(max_id))


def _sqlite_rows(conn, query, params: dict) -> list:
    """The rows of `query`, text as str at sqlite3's own speed; if some value is not UTF-8,
    read again with that value as its bytes, for the rules to set its row aside."""
    driver = conn.connection.driver_connection
    lenient = driver.text_factory
    try:
        driver.text_factory = str
        try:
            return conn.execute(query, params).all()
        except OperationalError as exc:
            if "decode" not in str(exc.orig):
                raise
        driver.text_factory = text_or_bytes
        return conn.execute(query, params).all()
    finally:
        driver.text_factory = lenient


def _read_postgres(engine: Engine, source: str, cursor: Cursor, limit: int) -> Batch:
    id_col, cols = _ID[source], _pg_select(source)
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        pg.autocommit = False
        with pg.transaction():
            with pg.cursor(binary=True) as cur:
                # The driver's own C loader: every instant selected is one Python can hold.
                cur.adapters.register_loader("timestamptz", TimestamptzBinaryLoader)
                # One snapshot for the proof and for every row read under it.
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SET LOCAL TIME ZONE 'UTC'")  # instants come out as UTC, whatever the server's zone
                cur.execute(
                    "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                    "FROM pg_current_snapshot() s"
                )
                xmin, xmax = cur.fetchone()
                cur.execute(f"SELECT coalesce(max({id_col}), 0) FROM {source}")
                (max_id,) = cur.fetchone()
                gap_ids = cursor.gap_ids()
                query = f"SELECT {cols} FROM {source} WHERE {id_col} > %s ORDER BY {id_col} LIMIT %s"
                params: list = [int(cursor.read_from), int(limit)]
                if gap_ids:
                    query = f"({query}) UNION ALL (SELECT {cols} FROM {source} WHERE {id_col} = ANY(%s))"
                    params.append([int(i) for i in gap_ids])
                cur.execute(query, params)
                rows = _with_unholdable(cur.fetchall(), source)
    finally:
        raw.close()
    fresh = [r for r in rows if cursor.is_new(r[0])]
    return Batch(source, fresh, Snapshot(xmin=xmin, xmax=xmax), int(max_id))


def read_between(engine: Engine, source: str, low: int, high: int) -> list[tuple]:
    """The rows of `source` with low < id <= high, in id order, each exactly as read_batch reads it
    (so that a row read again compares equal to itself as it was taken in)."""
    id_col = _ID[source]
    if engine.dialect.name != "postgresql":
        query = text(
            f"SELECT {', '.join(_COLUMNS[source])} FROM {source} "
            f"WHERE {id_col} > :low AND {id_col} <= :high ORDER BY {id_col}"
        )
        with engine.connect() as conn:
            return [tuple(r) for r in _sqlite_rows(conn, query, {"low": low, "high": high})]
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        pg.autocommit = False
        with pg.transaction():
            with pg.cursor(binary=True) as cur:
                cur.adapters.register_loader("timestamptz", TimestamptzBinaryLoader)
                cur.execute("SET LOCAL TIME ZONE 'UTC'")
                cur.execute(
                    f"SELECT {_pg_select(source)} FROM {source} WHERE {id_col} > %s AND {id_col} <= %s "
                    f"ORDER BY {id_col}",
                    [int(low), int(high)],
                )
                return _with_unholdable(cur.fetchall(), source)
    finally:
        raw.close()


def _with_unholdable(fetched: list[tuple], source: str) -> list[tuple]:
    """Rows in the source's column order, an instant Python cannot hold put back as its text."""
    width = len(_COLUMNS[source])
    positions = [_COLUMNS[source].index(c) for c in _INSTANTS[source]]
    holdable = (None,) * len(positions)  # no text put back: every instant was one Python can hold
    rows = []
    for row in fetched:
        texts = row[width:]
        if texts == holdable:
            rows.append(row[:width])
            continue
        fields = list(row[:width])
        for i, value in zip(positions, texts):
            if value is not None:
                fields[i] = value
        rows.append(tuple(fields))
    return rows
