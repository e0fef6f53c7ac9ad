"""Generated hostile rows through the whole ingest (`supervise ingest --once`), on SQLite and
PostgreSQL: the ingest never fails, every hostile row is taken in or set aside with a reason,
and the good cases beside them are judged exactly as in a run without the hostile rows.

Each example starts from a template (an exchange holding the good cases and a migrated
supervision database) copied afresh, writes the hostile rows and items of the example, then
the good rows that come after them, and ingests twice. The baseline is the same template
with only the later good rows.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import uuid
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, StatementError

from app.base import exchange as x
from ingest import store
from rules.events import KINDS, check_row
from tests.conftest import PG_ADMIN_URL, _libpq
from tests.rules.builders import payload_strategies

from .conftest import Supervise
from .exchange_builder import CST, Exchange, local

NOW = "2026-10-20T00:00:00+08:00"
HOSTILE_CASES = ("H1", "H2", "H3")

# --- the good cases --------------------------------------------------------------------------------

EARLY = [  # in the template, before any hostile row
    ("G-W", "received", "2026-09-29 09:00", {}, "ITEM-W"),
    ("G-W", "accepted", "2026-09-29 09:30", {}, None),
    ("G-W", "extended", "2026-10-09 10:00", {"days": 3}, None),
    ("G-STEP", "received", "2026-09-28 09:00", {}, "ITEM-N"),
    ("G-STEP", "accepted", "2026-09-28 10:00", {}, None),
    ("G-STEP", "step_started", "2026-09-28 11:00", {"step_id": "s1", "limit_days": 2}, None),
    ("G-SPECIAL", "received", "2026-09-29 09:00", {}, "ITEM-W"),
    ("G-SPECIAL", "accepted", "2026-09-29 09:10", {}, None),
    ("G-SPECIAL", "special_started", "2026-09-30 09:00", {"special_id": "h", "type": "hearing", "limit_days": 3}, None),
    ("G-SPECIAL", "special_ended", "2026-10-12 09:00", {"special_id": "h"}, None),
    ("G-FEE", "received", "2026-10-09 09:00", {}, "ITEM-FEE"),
    ("G-FEE", "accepted", "2026-10-09 09:30", {}, None),
    ("G-FEE", "completed", "2026-10-10 15:00", {"result": "approved", "fee_charged": 80}, None),
]
LATE = [  # written after the hostile rows: a good row after a bad one is never lost
    ("G-LATE", "received", "2026-10-08 09:00", {}, "ITEM-W"),
    ("G-LATE", "correction_notice", "2026-10-09 09:00", {"materials": ["身份证"]}, None),
    ("G-W", "completed", "2026-10-16 09:00", {"result": "denied"}, None),
]
GOOD_CASES = sorted({case_no for case_no, *_ in EARLY + LATE})


def write(exchange: Exchange, rows) -> None:
    for case_no, kind, occurred, payload, item_code in rows:
        exchange.event(case_no, kind, occurred, payload, item_code=item_code)


# --- hostile rows ----------------------------------------------------------------------------------

BIG = "9" * 5000
# Text no index entry can hold (a few kB that do not compress).
LONG = "".join(random.Random(7).choice(string.ascii_letters + "中文字段") for _ in range(3000))
HOSTILE_NUMBERS = st.one_of(
    st.integers(-10, 10),
    st.integers(3640, 3660),
    st.integers(-(2**70), 2**70),
    st.sampled_from([20261125, 1_500_001, 2_000_000, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1e308, -0.0]),
    st.text(max_size=4),
    st.sampled_from(["12.50", "1e999999999", "-1", "NaN"]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
    st.just(LONG),
)
VALID = payload_strategies(fees=(0, 60, "12.50"))


@st.composite
def payloads(draw, kind):
    """The kind's valid payload with some fields made hostile, as a dict; or hostile JSON text."""
    if draw(st.integers(0, 5)) == 0:
        return draw(
            st.sampled_from(
                [
                    f'{{"days": {BIG}}}',
                    f'{{"limit_days": {BIG}, "step_id": "s"}}',
                    "[" * 50_000 + "]" * 50_000,
                    '{"step_id": "s", "limit_days": NaN}',
                    '{"days": Infinity}',
                    '{"note": "\\ud800"}',
                    '{"x": "\\udfff\\ud800"}',
                    '{"note": "a\\u0000b"}',
                    "{oops",
                    "[]",
                    '"text"',
                    "null",
                    '{"result": "approved", "fee_charged": 1e400}',
                ]
            )
        )
    body = dict(draw(VALID[kind])) if kind in VALID else {}
    for field in draw(
        st.lists(
            st.sampled_from(
                ["days", "limit_days", "fee_charged", "step_id", "special_id", "result", "applicant_phone"]
            ),
            max_size=3,
        )
    ):
        body[field] = draw(HOSTILE_NUMBERS)
    return body


INSTANT_TEXT = st.sampled_from(
    [
        "9999-12-30T10:00:00+08:00",
        "0001-01-02T00:00:00Z",
        "1969-12-31T23:00:00Z",
        "2200-01-01T00:00:00Z",
        "infinity",
        "2026-13-45T00:00:00+08:00",
        "yesterday",
    ]
)


@st.composite
def hostile_rows(draw):
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        case_no = draw(st.one_of(st.sampled_from(HOSTILE_CASES), st.sampled_from([None, "", " ", "H\u202e1", LONG])))
        kind = draw(st.one_of(st.sampled_from(KINDS), st.sampled_from(["Accepted", None])))
        occurred = local("2026-09-29 09:00") + timedelta(minutes=draw(st.integers(0, 30 * 24 * 60)))
        occurred_at = draw(st.one_of(st.just(occurred), st.just(occurred), INSTANT_TEXT))
        recorded_at = occurred + timedelta(seconds=5) if not isinstance(occurred_at, str) else occurred_at
        item_code = draw(st.sampled_from(["ITEM-W", "ITEM-H", "ITEM-GONE", None])) if kind == "received" else None
        rows.append(
            {
                "case_no": case_no,
                "kind": kind,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "item_code": item_code,
                "center_id": draw(st.sampled_from(["GX-450100", None, LONG])),
                "payload": draw(payloads(kind)),
            }
        )
    if draw(st.integers(0, 4)) == 0:  # ten-year extensions, each in bounds, that overflow together
        base = local("2026-10-13 09:00")
        rows.append(
            {
                "case_no": "H1",
                "kind": "received",
                "occurred_at": local("2026-09-29 09:00"),
                "recorded_at": local("2026-09-29 09:00:05"),
                "item_code": "ITEM-W",
                "payload": {},
            }
        )
        rows += [
            {
                "case_no": "H1",
                "kind": "extended",
                "many": True,
                "occurred_at": base + timedelta(minutes=i),
                "recorded_at": base + timedelta(minutes=i, seconds=1),
                "item_code": None,
                "payload": {"days": 3650},
            }
            for i in range(700)
        ]
    return rows


HOSTILE_ITEM = st.fixed_dictionaries(
    {
        "promised_days": st.one_of(st.integers(0, 10), st.sampled_from([3651, 2_000_000, -1, 2**31 - 1])),
        "statutory_days": st.one_of(st.integers(0, 30), st.sampled_from([20261125, 2**31 - 1])),
        "day_unit": st.sampled_from(["working", "natural", "fortnightly"]),
        "fee_yuan": st.sampled_from(["0", "50.00", "9999999999.99", "-3", "NaN", "abc"]),
    }
)


# --- the run ---------------------------------------------------------------------------------------


class Backend:
    """A template (exchange with the early good rows, migrated supervision database) and fresh copies of it."""

    def copy(self) -> tuple[str, str]:
        """(exchange URL, supervision URL) of a fresh copy."""
        raise NotImplementedError

    def drop(self, urls) -> None:
        pass


class SqliteBackend(Backend):
    def __init__(self, folder):
        self.folder = folder
        template = folder / "template"
        template.mkdir()
        write(Exchange(f"sqlite:///{template / 'exchange.db'}"), EARLY)
        Supervise(_env(f"sqlite:///{template / 'exchange.db'}", f"sqlite:///{template / 'supervise.db'}", template))(
            "db", "upgrade"
        )
        self.template = template

    def copy(self):
        here = self.folder / uuid.uuid4().hex[:8]
        shutil.copytree(self.template, here)
        return f"sqlite:///{here / 'exchange.db'}", f"sqlite:///{here / 'supervise.db'}"


class PostgresBackend(Backend):
    """Exchange and supervision tables share one database, as in the other PostgreSQL tests."""

    def __init__(self, url):
        write(Exchange(url), EARLY)
        Supervise(_env(url, url, None))("db", "upgrade")
        create_engine(url).dispose()
        self.template = make_url(url).database

    def copy(self):
        name = f"{self.template}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as admin:
            # a template is copied only while nobody is connected to it
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.template,))
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        return url, url

    def drop(self, urls):
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{make_url(urls[0]).database}" WITH (FORCE)')


def _env(exchange_url, db_url, var) -> dict:
    env = {"SUPERVISE_EXCHANGE_URL": exchange_url, "SUPERVISE_DB_URL": db_url}
    return env | ({"SUPERVISE_VAR_DIR": str(var)} if var else {})


def run(backend: Backend, rows, items, tmp) -> dict:
    """Write the example into a fresh copy, ingest it twice; what the good cases came to, and the checks."""
    exchange_url, db_url = urls = backend.copy()
    try:
        exchange = Exchange.attach(exchange_url)
        written = _write_hostile(exchange, rows, items)
        write(exchange, LATE)
        supervise = Supervise(_env(exchange_url, db_url, tmp))
        supervise.ingest(NOW)
        supervise.ingest(NOW)  # a rerun never fails either
        db = create_engine(db_url)
        try:
            _every_row_taken_in_or_set_aside(db, exchange, written)
            return _good_state(db)
        finally:
            db.dispose()
            exchange.engine.dispose()
    finally:
        backend.drop(urls)


def _write_hostile(exchange: Exchange, rows, items) -> list[int]:
    """Rows and items as upstream would write them; what a backend refuses to hold is not written
    (all at once if it holds them all, else each in a transaction of its own)."""
    for n, item in enumerate(items):
        values = {"item_code": f"ITEM-H{n or ''}", "name": "敌意事项", "dept_id": "D-SCJG", **item}
        _try(
            exchange,
            lambda conn: conn.execute(
                text(
                    "INSERT INTO items (item_code, name, dept_id, promised_days, statutory_days, day_unit, fee_yuan) "
                    "VALUES (:item_code, :name, :dept_id, :promised_days, :statutory_days, :day_unit, :fee_yuan)"
                ),
                values,
            ),
        )
    values = [
        {k: v for k, v in row.items() if k != "many"}
        | {
            "payload": x.Unparsed(row["payload"]) if isinstance(row["payload"], str) else row["payload"],
            "occurred_at": _instant(row["occurred_at"]),
            "recorded_at": _instant(row["recorded_at"]),
        }
        for row in rows
    ]

    def insert_rows(part):
        return lambda conn: (
            conn.execute(insert(x.case_events).returning(x.case_events.c.event_id), part).scalars().all()
        )

    written = []
    for one in [v for v, row in zip(values, rows) if "many" not in row]:
        written += _try(exchange, insert_rows([one]))
    many = [v for v, row in zip(values, rows) if "many" in row]  # good rows each: one transaction
    return written + (_try(exchange, insert_rows(many)) if many else [])


def _instant(value):
    return x.Unparsed(value) if isinstance(value, str) else value


def _try(exchange: Exchange, write_it) -> list:
    try:
        with exchange.engine.begin() as conn:
            conn.exec_driver_sql(
                "PRAGMA ignore_check_constraints = ON"
            ) if exchange.engine.dialect.name == "sqlite" else None
            return write_it(conn) or []
    except (DBAPIError, StatementError, ValueError, OverflowError):
        return []  # e.g. PostgreSQL refuses NaN or NUL in JSONB, or a day unit its CHECK forbids


def _every_row_taken_in_or_set_aside(db, exchange: Exchange, written: list[int]) -> None:
    with db.connect() as conn:
        taken = set(conn.execute(text("SELECT event_id FROM events")).scalars())
        keys = set(conn.execute(text("SELECT dup_key FROM events")).scalars())
        logged = dict(conn.execute(text("SELECT event_id, reason FROM quality_log WHERE source = 'case_events'")).all())
        aside = (
            conn.execute(text("SELECT reason FROM quality_log WHERE source IN ('judging', 'items')")).scalars().all()
        )
        changed = conn.execute(text("SELECT reason FROM quality_log WHERE source LIKE 'changed:%'")).scalars().all()
    assert changed == []  # nothing changed upstream: the rows read again are as they were taken in
    for reason in [*logged.values(), *aside]:
        assert reason.strip() and "Traceback" not in reason
    missing = set(written) - taken - set(logged)
    if missing:  # only an exact repeat of a row taken in is neither
        with exchange.engine.connect() as conn:
            for row in conn.execute(
                text("SELECT * FROM case_events WHERE event_id IN ({})".format(",".join(map(str, missing))))
            ):
                event = check_row(*row, known_items={"ITEM-W", "ITEM-N", "ITEM-FEE", "ITEM-H"}, tz=CST)
                assert store.dup_key(event) in keys, f"row {row} was neither taken in nor set aside"


def _good_state(db) -> dict:
    where = {"cases": GOOD_CASES}
    with db.connect() as conn:
        cases = (
            conn.execute(
                text("SELECT * FROM cases WHERE case_no IN :cases ORDER BY case_no").bindparams(_expanding("cases")),
                where,
            )
            .mappings()
            .all()
        )
        alarms = conn.execute(
            text(
                "SELECT kind, case_no, subject, fired_at, due, state, closed_reason, closed_at "
                "FROM alarms WHERE case_no IN :cases ORDER BY 1, 2, 3"
            ).bindparams(_expanding("cases")),
            where,
        ).all()
    return {"cases": [_plain(dict(c)) for c in cases], "alarms": [tuple(map(str, a)) for a in alarms]}


def _expanding(name):
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _plain(row: dict) -> dict:
    """A case row comparable across copies: instants as text, clocks decoded."""
    clocks = row["clocks"]
    return {k: str(v) for k, v in row.items() if k != "clocks"} | {
        "clocks": json.loads(clocks) if isinstance(clocks, str) else clocks
    }


# --- the property ----------------------------------------------------------------------------------

EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


@pytest.fixture(scope="module")
def sqlite_backend(tmp_path_factory):
    backend = SqliteBackend(tmp_path_factory.mktemp("hostile"))
    return backend, run(backend, [], [], backend.folder)


@EXAMPLES
@given(hostile_rows(), st.lists(HOSTILE_ITEM, max_size=2))
def test_hostile_rows_stop_nothing_on_sqlite(sqlite_backend, rows, items):
    backend, baseline = sqlite_backend
    assert run(backend, rows, items, backend.folder) == baseline


@pytest.fixture(scope="module")
def postgres_backend(tmp_path_factory):
    from tests.conftest import CONNECT_TIMEOUT, _service_missing

    try:
        admin = psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        _service_missing(f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()}", exc)
    name = f"test_hostile_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            backend = PostgresBackend(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
            yield backend, run(backend, [], [], tmp_path_factory.mktemp("hostile-pg"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@settings(EXAMPLES, max_examples=6)
@given(hostile_rows(), st.lists(HOSTILE_ITEM, max_size=2))
def test_hostile_rows_stop_nothing_on_postgresql(postgres_backend, tmp_path_factory, rows, items):
    backend, baseline = postgres_backend
    assert run(backend, rows, items, tmp_path_factory.getbasetemp()) == baseline
