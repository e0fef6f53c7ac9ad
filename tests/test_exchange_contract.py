"""The project's exchange tables (app.base.exchange) against the contract's own DDL.

The database is created by running the contract files from shared/contract,
as the region's office would, never from our definitions. Then: the columns
match one by one, rows an upstream system writes with raw SQL (NULLs and
garbage included) read back through our tables without raising, and rows we
write are what a raw SQL reader expects.
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import StatementError

from app.base import exchange
from app.base.exchange import Unparsed, cameras, case_events, items, metadata, onsite_ratings

CST = timezone(timedelta(hours=8))
FILES = ("exchange-db.sql", "exchange-db.sqlite.sql")
PACKAGE_COPY = Path(exchange.__file__).with_name("contract")


@pytest.fixture(scope="module")
def contract_dir() -> Path:
    configured = os.environ.get("SUPERVISE_CONTRACT_DIR")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "contract"
    if not all((folder / name).is_file() for name in FILES):
        message = f"contract files not found in {folder} (set SUPERVISE_CONTRACT_DIR)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message, pytrace=False)
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def contract_db(request, contract_dir, tmp_path):
    """An engine on a database made by the contract's own DDL file."""
    if request.param == "sqlite":
        url, ddl_file = f"sqlite:///{tmp_path / 'contract.db'}", "exchange-db.sqlite.sql"
    else:
        url, ddl_file = request.getfixturevalue("pg_url"), "exchange-db.sql"
    raw = create_engine(url)
    with raw.begin() as conn:
        for statement in exchange.ddl_statements((contract_dir / ddl_file).read_text(encoding="utf-8")):
            conn.exec_driver_sql(statement)
    raw.dispose()
    engine = exchange.exchange_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("name", FILES)
def test_package_copy_is_byte_identical_to_shared_contract(contract_dir, name):
    # app/base/contract/ is what create_exchange_schema runs; drift from shared/ is a bug.
    assert (PACKAGE_COPY / name).read_bytes() == (contract_dir / name).read_bytes()


def _shape(engine) -> dict:
    """Everything reflection tells about the contract tables, in comparable form."""
    insp, dialect = inspect(engine), engine.dialect
    shape = {}
    for name in sorted(insp.get_table_names()):
        pk = insp.get_pk_constraint(name)["constrained_columns"]
        shape[name] = {
            "columns": [
                (c["name"], c["type"].compile(dialect=dialect), c["nullable"] or False, c["default"] is not None)
                for c in insp.get_columns(name)
            ],
            "pk": pk,
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(name)
            ),
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(name)),
        }
    return shape


def _declared_shape(dialect) -> dict:
    shape = {}
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        shape[table.name] = {
            "columns": [
                (
                    c.name,
                    c.type.compile(dialect=dialect),
                    c.nullable or _sqlite_nullable_key(c, dialect),
                    c.server_default is not None,
                )
                for c in table.columns
            ],
            "pk": [c.name for c in table.primary_key],
            "fks": sorted(
                (
                    tuple(fk.parent.name for fk in con.elements),
                    con.referred_table.name,
                    tuple(fk.column.name for fk in con.elements),
                )
                for con in table.foreign_key_constraints
            ),
            "indexes": sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes),
        }
    return shape


def _sqlite_nullable_key(column, dialect) -> bool:
    # SQLite reports every PRIMARY KEY without NOT NULL as nullable. For INTEGER keys NULL means
    # "take the next id"; but a TEXT key really accepts NULL (a known SQLite quirk the contract
    # does not guard against), so on SQLite a reference row may have a NULL id.
    return dialect.name == "sqlite" and column.primary_key


def _without_serial_defaults(shape: dict) -> dict:
    # PostgreSQL reflects BIGSERIAL as a nextval() default; ours is autoincrement, not a declared default.
    for table in shape.values():
        table["columns"] = [(n, t, null, default and n not in table["pk"]) for n, t, null, default in table["columns"]]
    return shape


def test_tables_match_the_contract_column_by_column(contract_db):
    reflected = _without_serial_defaults(_shape(contract_db))
    declared = _without_serial_defaults(_declared_shape(contract_db.dialect))
    assert sorted(reflected) == sorted(declared)
    for name in declared:
        for got, want in zip(reflected[name]["columns"], declared[name]["columns"], strict=True):
            assert got == want, f"{name}: contract has {got}, app.base.exchange declares {want}"
        assert reflected[name] == declared[name], name


def test_our_definitions_create_what_the_contract_creates(contract_db, tmp_path, request):
    # metadata.create_all on a fresh database must reflect exactly like the contract's DDL.
    if contract_db.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'ours.db'}"
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        from tests.conftest import PG_ADMIN_URL  # a second database beside the fixture's

        name = make_url(contract_db.url).database + "_ours"
        admin_url = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

        def drop():
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        request.addfinalizer(drop)
        url = make_url(contract_db.url).set(database=name).render_as_string(hide_password=False)
    ours = create_engine(url)
    metadata.create_all(ours)
    # One difference on SQLite: create_all writes NOT NULL on the keys, the contract does not
    # (so NULL text ids are possible there). That is why create_exchange_schema runs the contract.
    assert _keys_not_null(_shape(ours)) == _keys_not_null(_shape(contract_db))
    ours.dispose()


def _keys_not_null(shape: dict) -> dict:
    for table in shape.values():
        table["columns"] = [(n, t, null and n not in table["pk"], d) for n, t, null, d in table["columns"]]
    return shape


def test_create_exchange_schema_runs_the_contract_and_is_idempotent(tmp_path):
    engine = exchange.exchange_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert exchange.create_exchange_schema(engine) is True
    assert exchange.create_exchange_schema(engine) is False
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_a_partial_schema_is_refused(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE centers (center_id TEXT PRIMARY KEY)")
    with pytest.raises(RuntimeError, match="only some contract tables"):
        exchange.create_exchange_schema(engine)


def test_ddl_splitter_ignores_semicolons_in_comments():
    ddl = "CREATE TABLE a (x TEXT -- e.g. 'a;b' ; SECRET\n);\n-- trailing ; comment\nCREATE INDEX i ON a (x);"
    assert exchange.ddl_statements(ddl) == ["CREATE TABLE a (x TEXT \n)", "CREATE INDEX i ON a (x)"]


# --- upstream writes with raw SQL; we read through our tables ---

REFERENCE_SQL = [
    "INSERT INTO centers VALUES ('GX-450000', '广西壮族自治区政务服务中心', 'region', NULL, '450000')",
    "INSERT INTO departments VALUES ('D1', 'GX-450000', '自治区市场监督管理局')",
    "INSERT INTO windows VALUES ('W1', 'GX-450000', 'D1', 'A01')",
    "INSERT INTO windows VALUES ('W2', 'GX-450000', NULL, 'Z01')",
]

# (description, SQLite SQL, PostgreSQL SQL, expected occurred_at, expected payload)
UPSTREAM_EVENTS = [
    (
        "offset form",
        "'2026-03-02T09:00:00+08:00', '{\"channel\":\"window\"}'",
        "'2026-03-02T09:00:00+08:00', '{\"channel\":\"window\"}'",
        datetime(2026, 3, 2, 9, tzinfo=CST),
        {"channel": "window"},
    ),
    (
        "Z form with milliseconds",
        "'2026-03-02T01:00:00.250Z', NULL",
        "'2026-03-02T01:00:00.250Z', NULL",
        datetime(2026, 3, 2, 1, 0, 0, 250000, tzinfo=UTC),
        None,
    ),
    (
        "payload is an array",
        "'2026-03-02T09:00:00+08:00', '[1,2]'",
        "'2026-03-02T09:00:00+08:00', '[1,2]'",
        datetime(2026, 3, 2, 9, tzinfo=CST),
        [1, 2],
    ),
    (
        "payload is a JSON string",
        "'2026-03-02T09:00:00+08:00', '\"ok\"'",
        "'2026-03-02T09:00:00+08:00', '\"ok\"'",
        datetime(2026, 3, 2, 9, tzinfo=CST),
        "ok",
    ),
    (
        "payload is JSON null",
        "'2026-03-02T09:00:00+08:00', 'null'",
        "'2026-03-02T09:00:00+08:00', 'null'",
        datetime(2026, 3, 2, 9, tzinfo=CST),
        None,
    ),
    (
        "occurred_at NULL, nested payload",
        'NULL, \'{"a":{"b":[1,null]}}\'',
        'NULL, \'{"a":{"b":[1,null]}}\'',
        None,
        {"a": {"b": [1, None]}},
    ),
]
# Only SQLite can hold these; PostgreSQL's own types refuse them at insert.
SQLITE_GARBAGE = [
    ("garbage time", "'yesterday', '{}'", Unparsed("yesterday"), {}),
    ("no offset", "'2026-03-02 09:00:00', '{}'", Unparsed("2026-03-02 09:00:00"), {}),
    ("empty time", "'', '{}'", Unparsed(""), {}),
    ("epoch number", "1772413200, '{}'", Unparsed("1772413200"), {}),
    (
        "truncated JSON",
        "'2026-03-02T09:00:00+08:00', '{\"step_id\": \"S1\"'",
        datetime(2026, 3, 2, 9, tzinfo=CST),
        Unparsed('{"step_id": "S1"'),
    ),
    ("empty payload", "'2026-03-02T09:00:00+08:00', ''", datetime(2026, 3, 2, 9, tzinfo=CST), Unparsed("")),
    ("numeric payload", "'2026-03-02T09:00:00+08:00', 42", datetime(2026, 3, 2, 9, tzinfo=CST), 42),
]
# Only PostgreSQL can hold these: legal TIMESTAMPTZ that Python cannot.
PG_GARBAGE = [
    ("infinity", "'infinity', '{}'", Unparsed("infinity"), {}),
    ("year 10000", "'10000-01-01T00:00:00+00', '{}'", "10000", {}),
]


def test_upstream_rows_read_back_through_our_tables(contract_db):
    pg = contract_db.dialect.name == "postgresql"
    cases = [(d, pg_sql if pg else lite_sql, when, payload) for d, lite_sql, pg_sql, when, payload in UPSTREAM_EVENTS]
    cases += [(d, sql, when, payload) for d, sql, when, payload in (PG_GARBAGE if pg else SQLITE_GARBAGE)]
    with contract_db.begin() as conn:
        for sql in REFERENCE_SQL:
            conn.exec_driver_sql(sql)
        for i, (_, values, _, _) in enumerate(cases):
            conn.exec_driver_sql(
                "INSERT INTO case_events (case_no, kind, occurred_at, source_system, item_code, payload) "
                f"VALUES ('C{i}', 'received', {values.split(', ', 1)[0]}, 'SYS', 'I1', {values.split(', ', 1)[1]})"
            )
        conn.exec_driver_sql("INSERT INTO case_events (recorded_at) VALUES ('2026-03-02T09:00:00+08:00')")
        conn.exec_driver_sql("INSERT INTO onsite_ratings (case_no, score, rated_at) VALUES (NULL, NULL, NULL)")
        conn.exec_driver_sql(
            "INSERT INTO onsite_ratings (case_no, window_id, score, rated_at) "
            "VALUES ('C0', 'W1', 80, '2026-03-02T09:05:00+08:00')"
        )
    with contract_db.connect() as conn:
        rows = conn.execute(select(case_events).order_by(case_events.c.event_id)).all()
        ratings = conn.execute(select(onsite_ratings).order_by(onsite_ratings.c.rating_id)).all()

    assert [r.event_id for r in rows] == list(range(1, len(cases) + 2))
    for row, (description, _, when, payload) in zip(rows, cases):
        if isinstance(when, str) and not isinstance(when, Unparsed):  # a prefix is enough for PostgreSQL's year 10000
            assert isinstance(row.occurred_at, Unparsed) and when in row.occurred_at, description
        else:
            assert row.occurred_at == when and type(row.occurred_at) is type(when), description
        assert row.payload == payload and type(row.payload) is type(payload), description
        assert row.recorded_at.tzinfo is not None, description  # the database's default, read as an instant
        assert (row.case_no, row.kind, row.item_code) == (f"C{rows.index(row)}", "received", "I1")
    empty = rows[-1]
    assert (empty.case_no, empty.kind, empty.occurred_at, empty.payload) == (None, None, None, None)
    assert empty.recorded_at == datetime(2026, 3, 2, 9, tzinfo=CST)
    assert (ratings[0].case_no, ratings[0].score, ratings[0].rated_at) == (None, None, None)
    assert (ratings[1].score, ratings[1].rated_at) == (80, datetime(2026, 3, 2, 9, 5, tzinfo=CST))


def test_upstream_reference_values_read_back(contract_db):
    pg = contract_db.dialect.name == "postgresql"
    flags = ["false", "true"] if pg else ["0", "1", "2", "'yes'"]
    fees = ["12.5", "0", "120"] if pg else ["'12.5'", "0", "120", "'free'"]
    with contract_db.begin() as conn:
        for sql in REFERENCE_SQL:
            conn.exec_driver_sql(sql)
        for i, flag in enumerate(flags):
            conn.exec_driver_sql(f"INSERT INTO cameras VALUES ('K{i}', 'W1', 'rtsp://u:p@h/{i}', NULL, {flag})")
        conn.exec_driver_sql("INSERT INTO cameras (camera_id, window_id, url) VALUES ('Kd', 'W2', 'rtsp://d')")
        for i, fee in enumerate(fees):
            conn.exec_driver_sql(f"INSERT INTO items VALUES ('I{i}', '事项{i}', 'D1', 5, 20, 'working', {fee})")
        conn.exec_driver_sql(
            "INSERT INTO items (item_code, name, promised_days, statutory_days) VALUES ('Id', 'x', 1, 1)"
        )
    with contract_db.connect() as conn:
        enabled = dict(conn.execute(select(cameras.c.camera_id, cameras.c.enabled)).all())
        fee = dict(conn.execute(select(items.c.item_code, items.c.fee_yuan)).all())
        unit = conn.execute(select(items.c.day_unit).where(items.c.item_code == "Id")).scalar_one()
    want_flags = [False, True] if pg else [False, True, True, Unparsed("yes")]
    assert [enabled[f"K{i}"] for i in range(len(flags))] == want_flags
    assert enabled["Kd"] is True  # the contract's default
    want_fees = [Decimal("12.50"), Decimal("0.00"), Decimal("120.00")] + ([] if pg else [Unparsed("free")])
    assert [fee[f"I{i}"] for i in range(len(fees))] == want_fees
    assert all(type(fee[f"I{i}"]) is type(want) for i, want in enumerate(want_fees))
    assert (fee["Id"], unit) == (Decimal("0.00"), "working")


# --- we write through our tables; a raw SQL reader checks ---


def test_rows_written_through_our_tables_read_raw(contract_db):
    pg = contract_db.dialect.name == "postgresql"
    occurred = datetime(2026, 3, 2, 9, 30, tzinfo=CST)
    recorded = datetime(2026, 3, 2, 1, 30, 5, tzinfo=UTC)
    payload = {"step_id": "S1", "name": "现场勘查", "limit_days": 5}
    with contract_db.begin() as conn:
        for sql in REFERENCE_SQL:
            conn.execute(text(sql))
        conn.execute(
            cameras.insert(), [{"camera_id": "K1", "window_id": "W1", "url": "rtsp://u:p@h/1", "enabled": False}]
        )
        conn.execute(cameras.insert(), [{"camera_id": "K2", "window_id": "W2", "url": "rtsp://u:p@h/2"}])
        conn.execute(
            items.insert(),
            [
                {
                    "item_code": "I1",
                    "name": "护照签发",
                    "dept_id": "D1",
                    "promised_days": 7,
                    "statutory_days": 15,
                    "fee_yuan": Decimal("120.00"),
                }
            ],
        )
        conn.execute(
            case_events.insert(),
            [
                {
                    "case_no": "C1",
                    "kind": "step_started",
                    "occurred_at": occurred,
                    "recorded_at": recorded,
                    "payload": payload,
                },
            ],
        )
        conn.execute(
            case_events.insert(),
            [
                {"case_no": "C1", "kind": "accepted", "occurred_at": occurred, "payload": None},
                {"case_no": None, "kind": None, "occurred_at": None, "payload": ["not", "an", "object"]},
            ],
        )
        with pytest.raises(StatementError, match="naive datetime"):
            conn.execute(case_events.insert(), [{"case_no": "C2", "occurred_at": datetime(2026, 3, 2, 9)}])

    with contract_db.connect() as conn:
        if pg:
            rows = conn.execute(
                text(
                    "SELECT occurred_at = '2026-03-02T01:30:00Z', recorded_at = '2026-03-02T01:30:05Z', "
                    "jsonb_typeof(payload), payload->>'name', payload IS NULL FROM case_events ORDER BY event_id"
                )
            ).all()
            assert rows == [
                (True, True, "object", "现场勘查", False),
                (True, False, None, None, True),
                (None, False, "array", None, False),
            ]
            assert conn.execute(text("SELECT enabled FROM cameras ORDER BY camera_id")).scalars().all() == [False, True]
            assert conn.execute(text("SELECT fee_yuan = 120 FROM items")).scalar_one() is True
        else:
            rows = conn.execute(
                text(
                    "SELECT occurred_at, recorded_at, payload, payload IS NULL, typeof(occurred_at) "
                    "FROM case_events ORDER BY event_id"
                )
            ).all()
            assert rows[0][:2] == ("2026-03-02T09:30:00+08:00", "2026-03-02T01:30:05+00:00")
            assert json.loads(rows[0][2]) == payload and "现场勘查" in rows[0][2]  # readable, not \\u escapes
            assert rows[1][2:4] == (None, 1)  # None is SQL NULL, not the text 'null'
            assert rows[1][1].endswith("Z")  # the contract's default filled recorded_at
            assert rows[2][2] == '["not","an","object"]' and rows[2][4] == "null"
            assert conn.execute(text("SELECT enabled FROM cameras ORDER BY camera_id")).scalars().all() == [0, 1]
            assert conn.execute(text("SELECT fee_yuan, typeof(fee_yuan) FROM items")).one() == (120, "integer")
    # and our own reader agrees with what was written
    with contract_db.connect() as conn:
        back = conn.execute(select(case_events.c.occurred_at, case_events.c.payload).order_by("event_id")).all()
    assert back == [(occurred, payload), (occurred, None), (None, ["not", "an", "object"])]


def test_garbage_is_written_verbatim_on_sqlite(contract_db):
    if contract_db.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's column types cannot hold garbage text")
    with contract_db.begin() as conn:
        conn.execute(
            case_events.insert(),
            [{"case_no": "C1", "kind": "received", "occurred_at": "2026-13-45 25:61", "payload": Unparsed("{oops")}],
        )
    with contract_db.connect() as conn:
        assert conn.execute(text("SELECT occurred_at, payload FROM case_events")).one() == ("2026-13-45 25:61", "{oops")
        assert conn.execute(select(case_events.c.occurred_at, case_events.c.payload)).one() == (
            Unparsed("2026-13-45 25:61"),
            Unparsed("{oops"),
        )
