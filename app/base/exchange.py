"""The exchange database (前置库) as SQLAlchemy tables, for both backends.

The contract (``app/base/contract/*.sql``, a byte-identical copy of
``shared/contract``) creates the same tables twice: on PostgreSQL with
TIMESTAMPTZ, JSONB and BOOLEAN columns, on SQLite with ISO 8601 text, JSON
text and 0/1. One :class:`~sqlalchemy.Table` per contract table serves both,
through the column types below.

Reading never raises, whatever an upstream system wrote, because no row may
stop the ingest. What comes back:

=================  =====================================  ==========================================
column type        PostgreSQL                             SQLite
=================  =====================================  ==========================================
:class:`Timestamp` aware ``datetime`` (session time zone)  aware ``datetime`` when the text is ISO 8601
                   or :class:`Unparsed` ('infinity', a    *with* an offset ('…+08:00', '…Z'),
                   year Python cannot hold)               otherwise :class:`Unparsed` (the raw text)
:class:`Json`      the decoded value: ``dict`` for an     the decoded value when the text is JSON,
                   object, but also list/str/int/…        otherwise :class:`Unparsed` (the raw text)
:class:`Flag`      ``bool``                               ``bool`` for 0/1 (any number), else
                                                          :class:`Unparsed`
:class:`Money`     ``Decimal`` with 2 places              ``Decimal`` with 2 places, else :class:`Unparsed`
=================  =====================================  ==========================================

SQL NULL is ``None`` everywhere (so is the JSON text ``null``). Plain TEXT and
INTEGER columns come back as the driver gives them; SQLite does not enforce
declared types, so there an INTEGER column may hold text, returned as is.

Writing takes aware datetimes (a naive one is an error: the contract wants an
offset) and any JSON-able value; an :class:`Unparsed` is written verbatim,
which is how a test or the simulator plants garbage on SQLite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.base import outage
from app.base.database import Limits, postgres_engine, reach
from app.base.settings import ConfigurationError


class Unparsed(str):
    """Stored text that could not be read as its column's type, returned as is.

    It is a ``str``, so code that only asks "is this a datetime / a dict?"
    needs nothing else; the ingest can use the type to say *why* a row is bad.
    """

    __slots__ = ()


# --- reading and writing single values (pure; also used by bulk writers) ---


def timestamp_text(value: datetime) -> str:
    """The contract's text form of an instant: ISO 8601 with its offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the exchange database stores instants with an offset")
    return value.isoformat()


def read_timestamp(value: object) -> datetime | Unparsed | None:
    """An aware datetime from stored text, or the text as :class:`Unparsed` when it has no offset or is not ISO 8601."""
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        return Unparsed(raw)
    if parsed.tzinfo is None:
        return Unparsed(raw)
    return parsed


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_text(value: object) -> str:
    """Compact JSON text, Chinese kept readable."""
    return _JSON.encode(value)


def read_json(value: object) -> object:
    """The decoded JSON value of stored text, or the text as :class:`Unparsed` when it is not JSON."""
    if value is None or isinstance(value, (int, float)):
        return value
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return Unparsed(raw)


def read_flag(value: object) -> bool | Unparsed | None:
    """0/1 (any number) as a bool; anything else as :class:`Unparsed`."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return Unparsed(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))


_CENT = Decimal("0.01")


def read_money(value: object) -> Decimal | Unparsed | None:
    """A stored amount as a Decimal with two places; anything not a number as :class:`Unparsed`."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        amount = Decimal(str(value))
        return amount.quantize(_CENT) if amount.is_finite() else amount
    except (InvalidOperation, ValueError):
        return Unparsed(str(value))


# --- column types: one definition, a dialect-specific storage ---


class Timestamp(TypeDecorator):
    """TIMESTAMPTZ on PostgreSQL; ISO 8601 text with an offset on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime):
            text_form = timestamp_text(value)  # refuses a naive datetime on both backends
            return value if dialect.name == "postgresql" else text_form
        return value  # None, or text written verbatim (an upstream's own form)

    def process_result_value(self, value, dialect):
        return read_timestamp(value)


class Json(TypeDecorator):
    """JSONB on PostgreSQL; JSON text on SQLite. SQL NULL and JSON null are both None."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value, dialect):
        if dialect.name == "postgresql":
            if isinstance(value, Unparsed):
                raise ValueError("PostgreSQL JSONB cannot hold text that is not JSON")
            return value
        if value is None or isinstance(value, Unparsed):
            return value
        return json_text(value)

    def process_result_value(self, value, dialect):
        if dialect.name == "postgresql":
            return value  # psycopg has decoded the JSONB already; it cannot be malformed
        return read_json(value)


class Flag(TypeDecorator):
    """BOOLEAN on PostgreSQL; INTEGER 0/1 on SQLite."""

    impl = Integer
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Boolean(create_constraint=False))
        return dialect.type_descriptor(Integer())

    def process_bind_param(self, value, dialect):
        if dialect.name == "postgresql" or value is None or isinstance(value, str):
            return value
        return int(bool(value))

    def process_result_value(self, value, dialect):
        return read_flag(value)


class Money(TypeDecorator):
    """NUMERIC(12, 2) on both; SQLite may store it as INTEGER, REAL or (garbage) TEXT."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(12, 2))
        # No float/Decimal processing: a text value must come through untouched.
        return dialect.type_descriptor(_RawNumeric(12, 2))

    def process_bind_param(self, value, dialect):
        if dialect.name == "sqlite" and isinstance(value, Decimal):
            return str(value)  # NUMERIC affinity turns the text into a number, exactly
        return value

    def process_result_value(self, value, dialect):
        return read_money(value)


class _RawNumeric(Numeric):
    """NUMERIC whose values pass the driver untouched (SQLite only)."""

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        return None


class _recorded_now(FunctionElement):
    """The contract's default for recorded_at: the instant the row reached the database."""

    type = Timestamp()
    inherit_cache = True


@compiles(_recorded_now, "postgresql")
def _recorded_now_pg(element, compiler, **kw):
    return "now()"


@compiles(_recorded_now, "sqlite")
def _recorded_now_sqlite(element, compiler, **kw):
    return "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"


# BIGSERIAL on PostgreSQL; SQLite's INTEGER PRIMARY KEY AUTOINCREMENT must be INTEGER.
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

centers = Table(
    "centers",
    metadata,  # 政务服务中心
    Column("center_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, CheckConstraint("level IN ('region', 'city', 'county')"), nullable=False),
    Column("parent_id", Text, ForeignKey("centers.center_id")),
    Column("area_code", Text),
)

departments = Table(
    "departments",
    metadata,  # 窗口单位
    Column("dept_id", Text, primary_key=True),
    Column("center_id", Text, ForeignKey("centers.center_id"), nullable=False),
    Column("name", Text, nullable=False),
)

windows = Table(
    "windows",
    metadata,  # 服务窗口
    Column("window_id", Text, primary_key=True),
    Column("center_id", Text, ForeignKey("centers.center_id"), nullable=False),
    Column("dept_id", Text, ForeignKey("departments.dept_id")),
    Column("label", Text, nullable=False),
)

cameras = Table(
    "cameras",
    metadata,  # 窗口视频; url holds a secret: never show, log or send it
    Column("camera_id", Text, primary_key=True),
    Column("window_id", Text, ForeignKey("windows.window_id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("substream_url", Text),
    Column("enabled", Flag, nullable=False, server_default=true()),
)

staff = Table(
    "staff",
    metadata,  # 窗口工作人员
    Column("staff_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("dept_id", Text, ForeignKey("departments.dept_id")),
    Column("window_id", Text, ForeignKey("windows.window_id")),
)

items = Table(
    "items",
    metadata,  # 政务服务事项
    Column("item_code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("dept_id", Text, ForeignKey("departments.dept_id")),
    Column("promised_days", Integer, nullable=False),  # 承诺时限
    Column("statutory_days", Integer, nullable=False),  # 法定时限
    Column(
        "day_unit",
        Text,
        CheckConstraint("day_unit IN ('working', 'natural')"),
        nullable=False,
        server_default=text("'working'"),
    ),
    Column("fee_yuan", Money, nullable=False, server_default=text("0")),
)

case_events = Table(
    "case_events",
    metadata,  # 办件过程信息; append-only
    Column("event_id", RowId, primary_key=True, autoincrement=True),
    Column("case_no", Text),
    Column("kind", Text),
    Column("occurred_at", Timestamp),
    Column("recorded_at", Timestamp, nullable=False, server_default=_recorded_now()),
    Column("source_system", Text),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("window_id", Text),
    Column("staff_id", Text),
    Column("item_code", Text),
    Column("payload", Json),
    Index("case_events_case", "case_no"),
    sqlite_autoincrement=True,
)

onsite_ratings = Table(
    "onsite_ratings",
    metadata,  # 现场评价
    Column("rating_id", RowId, primary_key=True, autoincrement=True),
    Column("case_no", Text),
    Column("window_id", Text),
    Column("staff_id", Text),
    Column("score", Integer),
    Column("rated_at", Timestamp),
    sqlite_autoincrement=True,
)

REFERENCE_TABLES = (centers, departments, windows, cameras, staff, items)
FEED_TABLES = (case_events, onsite_ratings)


# --- the contract's own DDL ---

_CONTRACT_FILES = {"postgresql": "exchange-db.sql", "sqlite": "exchange-db.sqlite.sql"}


def contract_ddl(dialect_name: str) -> str:
    """The contract's DDL text for a backend, from the package's copy."""
    try:
        name = _CONTRACT_FILES[dialect_name]
    except KeyError:
        raise ValueError(
            f"the exchange contract has no DDL for {dialect_name!r} (only PostgreSQL and SQLite)"
        ) from None
    return resources.files("app.base.contract").joinpath(name).read_text(encoding="utf-8")


# A -- comment runs to the end of its line unless the dashes sit inside a 'literal';
# the contract's comments hold semicolons ("…/stream1 ; SECRET").
_TOKEN = re.compile(r"'(?:[^']|'')*'|--[^\n]*|;|[^';-]+|-", re.S)


def ddl_statements(ddl: str) -> list[str]:
    """The statements of a DDL script, comments removed, split on the semicolons between them."""
    statements, current = [], []
    for token in _TOKEN.findall(ddl):
        if token.startswith("--"):
            continue
        if token == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(token)
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def create_exchange_schema(engine: Engine) -> bool:
    """Create the contract's tables by running its own DDL; False when they are all there already.

    A database holding only some of them is refused rather than patched: it is
    not an exchange database this code understands.
    """
    wanted = {t.name for t in metadata.sorted_tables}
    present = wanted & set(inspect(engine).get_table_names())
    if present == wanted:
        return False
    if present:
        raise RuntimeError(
            f"exchange database has only some contract tables ({', '.join(sorted(present))}); refusing to add the rest"
        )
    with engine.begin() as conn:
        for statement in ddl_statements(contract_ddl(engine.dialect.name)):
            conn.exec_driver_sql(statement)
    return True


def missing_from_contract(engine: Engine, tables: Iterable[Table] | None = None) -> list[str]:
    """The contract's tables (all, or `tables`) and columns that the database lacks,
    as 'table' or 'table.column'; empty when it has them all. Checked at start, so
    that a process that needs one finds out before it has committed anything."""
    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    missing = []
    for table in tables or metadata.sorted_tables:
        if table.name not in present:
            missing.append(table.name)
            continue
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{column.name}" for column in table.columns if column.name not in columns]
    return missing


# --- an engine that reads anything ---


def exchange_engine(url: str, limits: Limits | None = None, **kwargs) -> Engine:
    """An engine on the exchange database whose reads never raise on a value.

    On PostgreSQL, 'infinity' and years beyond 9999 are legal TIMESTAMPTZ values
    that psycopg refuses to load; here they come back as :class:`Unparsed`. Its
    outages are reported as the exchange database's, and its links have the same
    `limits` as the supervision database's (app.base.database).
    """
    if make_url(url).get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _lenient_text(dbapi_connection, _record):
            dbapi_connection.text_factory = readable_text

        return outage.watch(engine, "exchange")
    kwargs.setdefault("pool_pre_ping", True)
    engine = postgres_engine(url, "exchange", limits or Limits(), **kwargs)

    @event.listens_for(engine, "connect")
    def _lenient_instants(dbapi_connection, _record):
        _register_lenient_timestamptz(dbapi_connection)

    return engine


def readable_text(data: bytes) -> str:
    """SQLite TEXT as str, whatever its bytes: SQLite stores what it is given, and sqlite3
    refuses a whole result for one value that is not UTF-8. Such bytes read as U+FFFD."""
    return data.decode("utf-8", "replace")


def text_or_bytes(data: bytes) -> str | bytes:
    """SQLite TEXT as str, or its bytes where they are not UTF-8 (for checks that say so)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def open_exchange(settings, tables: Iterable[Table] | None = None) -> Engine:
    """The configured exchange database, once it answers and holds the contract's
    `tables` (default: all of them) with every column; a ConfigurationError (one
    line, exit 2) otherwise. An unreachable one is waited for as app.base.database.reach
    says."""
    url = settings.exchange_url_resolved
    parsed = make_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database != ":memory:"
        and not (parsed.database and Path(parsed.database).is_file())
    ):
        raise ConfigurationError(
            f"there is no exchange database at {parsed.database} (SUPERVISE_EXCHANGE_URL; "
            "try 'supervise simulate --backfill 7' for a demo one)"
        )
    limits = Limits.of(settings)
    engine = exchange_engine(url, limits)
    missing: list[str] = []

    def check() -> None:
        missing[:] = missing_from_contract(engine, tables)

    reach(engine, "SUPERVISE_EXCHANGE_URL", limits, then=check)
    if missing:
        raise ConfigurationError(
            f"the exchange database ({outage.safe_url(engine)}, SUPERVISE_EXCHANGE_URL) lacks "
            f"what the contract defines: {', '.join(missing)}"
        )
    return engine


def _register_lenient_timestamptz(connection) -> None:
    from psycopg import DataError
    from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader

    class LenientText(TimestamptzLoader):
        def load(self, data):
            try:
                return super().load(data)
            except DataError:
                return Unparsed(bytes(data).decode("utf-8", "replace"))

    class LenientBinary(TimestamptzBinaryLoader):
        def load(self, data):
            try:
                return super().load(data)
            except DataError:
                micros = int.from_bytes(bytes(data), "big", signed=True)
                return Unparsed({2**63 - 1: "infinity", -(2**63): "-infinity"}.get(micros, str(micros)))

    connection.adapters.register_loader("timestamptz", LenientText)
    connection.adapters.register_loader("timestamptz", LenientBinary)
