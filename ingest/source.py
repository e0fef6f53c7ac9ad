"""Reads new rows from the exchange database, with the snapshot that proves
which writers were still in flight (see :mod:`ingest.tailer`).

PostgreSQL is read with ``COPY (SELECT …) TO STDOUT``: instants come out as
epoch microseconds and the payload as JSON text, so no per-value type adapter
runs in Python. SQLite is read with a plain SELECT; its values are already
text. Either way the rows are handed on raw: judging them is ``rules``' job.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, text

from ingest.tailer import Cursor, Snapshot

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

EVENT_COLUMNS = (
    "event_id", "case_no", "kind", "occurred_at", "recorded_at", "source_system",
    "center_id", "dept_id", "window_id", "staff_id", "item_code", "payload",
)
RATING_COLUMNS = ("rating_id", "case_no", "window_id", "staff_id", "score", "rated_at")

# PostgreSQL: instants as epoch microseconds, payload as its JSON text.
def _micros(column: str) -> str:
    # 'infinity' has no epoch: it is passed on as its text, for rules to reject with a reason.
    return (f"CASE WHEN isfinite({column}) THEN ((extract(epoch from {column}) * 1000000)::bigint)::text "
            f"ELSE {column}::text END")


_PG_SELECT = {
    "case_events": (
        f"event_id, case_no, kind, {_micros('occurred_at')}, {_micros('recorded_at')}, "
        "source_system, center_id, dept_id, window_id, staff_id, item_code, payload::text"
    ),
    "onsite_ratings": f"rating_id, case_no, window_id, staff_id, score, {_micros('rated_at')}",
}
_SQLITE_SELECT = {
    "case_events": ", ".join(EVENT_COLUMNS),
    "onsite_ratings": ", ".join(RATING_COLUMNS),
}
_ID = {"case_events": "event_id", "onsite_ratings": "rating_id"}
_INSTANT_COLUMNS = {"case_events": (3, 4), "onsite_ratings": (5,)}
_INT_COLUMNS = {"case_events": (0,), "onsite_ratings": (0, 4)}


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
    id_col, cols = _ID[source], _SQLITE_SELECT[source]
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {cols} FROM {source} WHERE {id_col} > :start ORDER BY {id_col} LIMIT :limit"),
            {"start": cursor.read_from, "limit": limit},
        ).all()
        max_id = conn.execute(text(f"SELECT coalesce(max({id_col}), 0) FROM {source}")).scalar_one()
    fresh = [tuple(r) for r in rows if cursor.is_new(r[0])]
    return Batch(source, fresh, Snapshot(serialised_writers=True), int(max_id))


def _read_postgres(engine: Engine, source: str, cursor: Cursor, limit: int) -> Batch:
    id_col, cols = _ID[source], _PG_SELECT[source]
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        pg.autocommit = False
        with pg.transaction():
            with pg.cursor() as cur:
                # One snapshot for the proof and for every row read under it.
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute(
                    "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
                    f"FROM pg_current_snapshot() s"
                )
                xmin, xmax = cur.fetchone()
                cur.execute(f"SELECT coalesce(max({id_col}), 0) FROM {source}")
                (max_id,) = cur.fetchone()
                gap_ids = cursor.gap_ids()
                where = f"{id_col} > {int(cursor.read_from)}"
                query = f"SELECT {cols} FROM {source} WHERE {where} ORDER BY {id_col} LIMIT {int(limit)}"
                if gap_ids:
                    ids = ",".join(str(int(i)) for i in gap_ids)
                    query = f"({query}) UNION ALL (SELECT {cols} FROM {source} WHERE {id_col} IN ({ids}))"
                rows = _copy_rows(cur, query, source)
    finally:
        raw.close()
    fresh = [r for r in rows if cursor.is_new(r[0])]
    return Batch(source, fresh, Snapshot(xmin=xmin, xmax=xmax), int(max_id))


def _copy_rows(cur, query: str, source: str) -> list[tuple]:
    chunks = []
    with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
    body = b"".join(chunks).decode("utf-8")
    instants, ints = _INSTANT_COLUMNS[source], _INT_COLUMNS[source]
    rows = []
    for line in body.split("\n"):
        if not line:
            continue
        fields: list = [_unescape(f) for f in line.split("\t")]
        for i in ints:
            if fields[i] is not None:
                fields[i] = int(fields[i])
        for i in instants:
            if fields[i] is not None:
                fields[i] = _instant(fields[i])
        rows.append(tuple(fields))
    return rows


def _instant(micros: str) -> datetime | str:
    """Epoch microseconds as an aware instant; anything Python cannot hold stays text."""
    try:
        return EPOCH + timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        return micros


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unescape(field: str) -> str | None:
    """A value of PostgreSQL's COPY text format."""
    if field == "\\N":
        return None
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt.isdigit():  # octal \ooo
                j = i + 1
                while j < len(field) and j < i + 4 and field[j] in "01234567":
                    j += 1
                out.append(chr(int(field[i + 1 : j], 8)))
                i = j
                continue
        out.append(ch)
        i += 1
    return "".join(out)
