"""How many rows move at once: one meaning, the dialect's fastest way.

The ingest writes and reads rows by the thousand in each transaction. What a
statement means is decided in :mod:`ingest.store`; this module only moves the
rows, so the logic stays one code path for SQLite and PostgreSQL:

=================  ==========================================  ===============================
                   PostgreSQL                                  SQLite
=================  ==========================================  ===============================
insert             ``COPY … FROM STDIN``                       executemany
upsert, update     COPY into a temporary stage table, then     executemany of the same
                   one ``INSERT … ON CONFLICT`` / ``UPDATE …    statement per row
                   FROM`` over it
new ids            ``nextval`` for all rows in one query,      ``INSERT … RETURNING``
                   then COPY
a set of keys      ``= ANY(array)``: one parameter             ``IN (SELECT value FROM
                                                               json_each(?))``: one parameter
reading many rows  the driver's own (C) loaders                SQLAlchemy's result processing
=================  ==========================================  ===============================

Every function works inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Integer,
    Table,
    Text,
    TypeDecorator,
    any_,
    bindparam,
    event,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, Select

_encode_json = json.JSONEncoder(ensure_ascii=False).encode  # as json.dumps writes it


class JsonText(str):
    """A JSON column's value already written as JSON text: stored as it is.

    The ingest has most values in this form before it needs them as JSON (an
    event's payload as the exchange database gave it; clocks written once by
    orjson), and encoding a dict again is a large share of its work."""


def _json_text(value) -> str:
    return value if isinstance(value, JsonText) else _encode_json(value)


def _decoded(row: dict) -> dict:
    """A row for SQLAlchemy, whose JSON type encodes values itself: JsonText decoded back."""
    if not any(isinstance(v, JsonText) for v in row.values()):
        return row
    return {k: json.loads(v) if isinstance(v, JsonText) else v for k, v in row.items()}


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _driver(conn: Connection):
    return conn.connection.driver_connection


def _json_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, JSON)}


# --- key sets -------------------------------------------------------------
def where_one_of(conn: Connection, column: ColumnElement, keys: Iterable) -> ColumnElement:
    """`column` is one of `keys`, as ONE bound parameter whatever their number."""
    keys = list(keys)
    if is_postgres(conn):
        element_type = column.type if not isinstance(column.type, JSON) else Text()
        return column == any_(bindparam(None, keys, type_=postgresql.ARRAY(element_type)))
    values = select(literal_column("value")).select_from(func.json_each(bindparam(None, json.dumps(keys))))
    return column.in_(values)


def where_pairs_in(
    conn: Connection, first: ColumnElement, second: ColumnElement, pairs: Sequence[tuple]
) -> ColumnElement:
    """(`first`, `second`) is one of `pairs`, as two bound parameters whatever their number:
    one probe of a two-column index per pair (two lists of keys would try every pair)."""
    if is_postgres(conn):
        arrays = [bindparam(None, [p[i] for p in pairs], type_=postgresql.ARRAY(Text())) for i in (0, 1)]
        given = func.unnest(*arrays).table_valued("a", "b").render_derived()
        return tuple_(first, second).in_(select(given.c.a, given.c.b))
    given = func.json_each(bindparam(None, json.dumps([list(p) for p in pairs]))).table_valued("value")
    return tuple_(first, second).in_(
        select(func.json_extract(given.c.value, "$[0]"), func.json_extract(given.c.value, "$[1]"))
    )


# --- writing --------------------------------------------------------------
def insert(conn: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Insert `rows` (dicts with the same keys)."""
    if not rows:
        return
    if not is_postgres(conn):
        conn.execute(table.insert(), [_decoded(r) for r in rows])
        return
    _copy(conn, table.name, table, list(rows[0]), rows)


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert `rows`, tuples of the `columns`' values: no dict per row on the fast path."""
    if not rows:
        return
    if not is_postgres(conn):
        conn.execute(table.insert(), [_decoded(dict(zip(columns, row))) for row in rows])
        return
    as_json = [i for i, c in enumerate(columns) if c in _json_columns(table)]
    if as_json:
        rows = [_with_json_text(row, as_json) for row in rows]
    _copy_tuples(conn, table.name, table, list(columns), rows)


def _with_json_text(row: tuple, positions: list[int]) -> list:
    row = list(row)
    for i in positions:
        row[i] = _json_text(row[i])
    return row


def insert_new(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple], unique: Sequence[str], returning: str
) -> list:
    """Insert those `rows` whose `unique` columns match no stored row; the `returning`
    column of each row inserted. The database finds the matches, by the unique index."""
    if not rows:
        return []
    if not is_postgres(conn):
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(table.c[returning])
        return list(conn.execute(stmt, [_decoded(dict(zip(columns, row))) for row in rows]).scalars())
    as_json = [i for i, c in enumerate(columns) if c in _json_columns(table)]
    if as_json:
        rows = [_with_json_text(row, as_json) for row in rows]
    names = ", ".join(columns)
    with _staged(conn, table, list(columns), rows) as stage, _driver(conn).cursor() as cur:
        cur.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} "
            f"ON CONFLICT ({', '.join(unique)}) DO NOTHING RETURNING {returning}"
        )
        return [value for (value,) in cur.fetchall()]


def insert_returning_ids(conn: Connection, table: Table, rows: Sequence[dict], id_column: str = "id") -> list[int]:
    """Insert `rows`; their new ids, in the order given."""
    if not rows:
        return []
    if not is_postgres(conn):
        stmt = table.insert().returning(table.c[id_column], sort_by_parameter_order=True)
        return list(conn.execute(stmt, [_decoded(r) for r in rows]).scalars())
    with _driver(conn).cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            (table.name, id_column, len(rows)),
        )
        ids = [i for (i,) in cur.fetchall()]
    _copy(conn, table.name, table, [id_column, *rows[0]], ({id_column: i} | row for i, row in zip(ids, rows)))
    return ids


def upsert(conn: Connection, table: Table, rows: Sequence[dict], key: str, update: Sequence[str]) -> None:
    """Insert `rows`; where `key` exists already, set the `update` columns from the new row."""
    if not rows:
        return
    columns = list(rows[0])
    if not is_postgres(conn):
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=[key], set_={c: stmt.excluded[c] for c in update})
        conn.execute(stmt, [_decoded(r) for r in rows])
        return
    names = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
    with _staged(conn, table, columns, _as_tuples(table, columns, rows)) as stage:
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} ON CONFLICT ({key}) DO UPDATE SET {sets}"
        )


def update(conn: Connection, table: Table, rows: Sequence[dict], key: str) -> None:
    """Set the other columns of each row where `key` matches (rows with the same keys)."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    if not is_postgres(conn):
        stmt = (
            table.update().where(table.c[key] == bindparam("_key")).values({c: bindparam(f"_new_{c}") for c in columns})
        )
        rows = [_decoded(r) for r in rows]
        conn.execute(stmt, [{"_key": r[key], **{f"_new_{c}": r[c] for c in columns}} for r in rows])
        return
    sets = ", ".join(f"{c} = s.{c}" for c in columns)
    with _staged(conn, table, [key, *columns], _as_tuples(table, [key, *columns], rows)) as stage:
        conn.exec_driver_sql(f"UPDATE {table.name} t SET {sets} FROM {stage} s WHERE t.{key} = s.{key}")


def _copy(conn: Connection, target: str, table: Table, columns: list[str], rows: Iterable[dict]) -> None:
    _copy_tuples(conn, target, table, columns, _as_tuples(table, columns, rows))


def _as_tuples(table: Table, columns: list[str], rows: Iterable[dict]) -> Iterable[list]:
    as_json = _json_columns(table) & set(columns)
    return ([_json_text(row[c]) if c in as_json else row[c] for c in columns] for row in rows)


@contextmanager
def _staged(conn: Connection, table: Table, columns: list[str], rows: Iterable) -> Iterator[str]:
    """`rows` copied into the stage table of `table`, for one statement; emptied after it."""
    stage = _stage(conn, table)
    _copy_tuples(conn, stage, table, columns, rows)
    yield stage
    # Not after an error: the transaction is rolled back whole (a DELETE in it now would fail
    # too, and hide the error: a cut link would read as a bug, not an outage).
    conn.exec_driver_sql(f"DELETE FROM {stage}")  # and at commit: this transaction may stage again


def _copy_tuples(conn: Connection, target: str, table: Table, columns: list[str], rows: Iterable) -> None:
    """COPY in binary: the driver's C dumpers write each value, no text to format or parse.
    JSON columns come as their text (the binary form of json is its text)."""
    with _driver(conn).cursor() as cur:
        with cur.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_pg_type(table.c[c].type) for c in columns])
            for row in rows:
                copy.write_row(row)


def _pg_type(column_type) -> str:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    if isinstance(column_type, JSON):
        return "text"
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Text):
        return "text"
    raise TypeError(f"no binary COPY type for {column_type!r}")


def prepare_stages(conn: Connection, tables: Iterable[Table]) -> None:
    """Create the stage tables of `tables` on this connection now, not at its first write."""
    if is_postgres(conn):
        for table in tables:
            _stage(conn, table)


def _stage(conn: Connection, table: Table) -> str:
    """A temporary table shaped like `table`, emptied at every commit (one per connection)."""
    name = f"stage_{table.name}"
    made, new = _stages(conn)
    if name not in made and name not in new:
        # Its columns without their NOT NULL constraints: an update stages only some of them.
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS "
            f"AS SELECT * FROM {table.name} WITH NO DATA"
        )
        new.add(name)
    return name


# The stage tables of a link: those made by a transaction that committed, and those made in the
# one under way, which its rollback (a statement timeout, say) takes away again. After an error
# nothing is sure and the next use makes them all again (IF NOT EXISTS: a statement each).
_STAGES = "supervise_stages"


def _stages(conn: Connection) -> tuple[set[str], set[str]]:
    """The link's (made, new) stage names, kept told of every commit and rollback on it."""
    if not event.contains(conn.engine, "commit", _committed):
        event.listen(conn.engine, "commit", _committed)
        event.listen(conn.engine, "rollback", _rolled_back)
        event.listen(conn.engine, "rollback_savepoint", _rolled_back)
        event.listen(conn.engine, "handle_error", _failed)
    return conn.connection.info.setdefault(_STAGES, (set(), set()))


def _stages_of(conn: Connection) -> tuple[set[str], set[str]]:
    if conn.closed or conn.invalidated:  # an invalidated link's stages went with it
        return set(), set()
    return conn.connection.info.get(_STAGES, (set(), set()))


def _committed(conn: Connection) -> None:
    made, new = _stages_of(conn)
    made |= new
    new.clear()


def _rolled_back(conn: Connection, *savepoint) -> None:
    _stages_of(conn)[1].clear()


def _failed(context) -> None:
    if context.connection is not None:
        for names in _stages_of(context.connection):
            names.clear()


# --- reading --------------------------------------------------------------
def fetch(conn: Connection, stmt: Select) -> list[tuple]:
    """All rows of `stmt` as tuples: instants aware, JSON decoded, on either dialect.

    On PostgreSQL the statement runs on the driver's cursor, whose loaders are
    C code; SQLAlchemy's per-value result processing is what it skips.
    """
    if not is_postgres(conn):
        return [tuple(r) for r in conn.execute(stmt)]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    with _driver(conn).cursor(binary=True) as cur:
        # In UTC the driver hands out `timezone.utc` instants, as SQLAlchemy's UtcDateTime does.
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute(compiled.string, compiled.params)
        return cur.fetchall()
