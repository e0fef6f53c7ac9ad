"""The supervision database: engines, migrations and `supervise db`.

Commands that need the database call :func:`open_database`, which upgrades it
to the newest migration on first use, so a fresh machine needs no set-up step.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from app.base import link_watch, outage
from app.base.settings import ConfigurationError, Settings, load

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class Limits:
    """How long a database may take, in seconds (the SUPERVISE_DB_* settings; see there)."""

    connect: float = 10.0
    statement: float = 30.0
    lock: float = 10.0
    long_statement: float = 3600.0
    network: float = 30.0
    retry_cap: float = 5.0
    start_wait: float = 60.0

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.db_connect_timeout,
            settings.db_statement_timeout,
            settings.db_lock_timeout,
            settings.db_long_statement_timeout,
            settings.db_network_timeout,
            settings.db_retry_max_seconds,
            settings.db_start_wait,
        )

    def postgres_connect_args(self, url_options: str | None = None) -> dict:
        """libpq parameters: a bounded connect, keepalives and tcp_user_timeout that find a dead
        link within `network` seconds, and the statement and lock timeouts of every session."""
        idle = max(1, round(self.network / 3))
        interval = max(1, round(self.network / 6))
        options = f"-c statement_timeout={_ms(self.statement)} -c lock_timeout={_ms(self.lock)}"
        return {
            "connect_timeout": max(1, round(self.connect)),
            "keepalives": 1,
            "keepalives_idle": idle,
            "keepalives_interval": interval,
            "keepalives_count": max(1, round((self.network - idle) / interval)),
            "tcp_user_timeout": _ms(self.network),
            # Options given in the URL come after ours, so they win.
            "options": f"{options} {url_options}" if url_options else options,
        }


def insert_for(bind: Engine | Connection, table: Table):
    """An INSERT into `table` in the dialect of `bind`, PostgreSQL's or SQLite's, both of which
    know ON CONFLICT (the plain one does not): the one place that chooses between them."""
    return (postgresql if bind.dialect.name == "postgresql" else sqlite).insert(table)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


_long = threading.local()


@contextmanager
def long_statements():
    """Statements this thread runs inside may take db_long_statement_timeout, not the
    usual limit: for work that legitimately runs long (migrations, KPI rebuilds, a
    backfill's COPY). Applies to the transactions begun inside."""
    before = getattr(_long, "on", False)
    _long.on = True
    try:
        yield
    finally:
        _long.on = before


def make_engine(url: str, *, database: str = "supervision", limits: Limits | None = None, **kwargs) -> Engine:
    """An engine for either backend, reporting its outages (app.base.outage) as `database`.

    SQLite gets WAL and a busy timeout so readers never block the writer.
    PostgreSQL gets the `limits`: a bounded connect, keepalives, statement and lock
    timeouts, and its links watched for a hang (app.base.link_watch)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(f"cannot make the folder of the {database} database: {exc}") from None
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return outage.watch(engine, database)
    kwargs.setdefault("pool_pre_ping", True)
    return postgres_engine(url, database, limits or Limits(), **kwargs)


def postgres_engine(url: str, database: str, limits: Limits, **kwargs) -> Engine:
    """A PostgreSQL engine with `limits` (see make_engine); the exchange database's engine too."""
    connect_args = limits.postgres_connect_args(make_url(url).query.get("options")) | kwargs.pop("connect_args", {})
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _watch_link(dbapi_connection, _record):
        link_watch.watch(dbapi_connection, database, limits.statement)

    @event.listens_for(engine, "begin")
    def _long_transaction(conn):
        if getattr(_long, "on", False):
            dbapi_connection = conn.connection.dbapi_connection
            with dbapi_connection.cursor() as cursor:  # the driver begins the transaction with it
                cursor.execute(f"SET LOCAL statement_timeout = {_ms(limits.long_statement)}")
                cursor.execute(f"SET LOCAL lock_timeout = {_ms(limits.long_statement)}")
            link_watch.allow(dbapi_connection, limits.long_statement)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end_of_transaction(conn):
        if getattr(_long, "on", False) and not conn.invalidated:
            link_watch.allow(conn.connection.dbapi_connection, None)

    return outage.watch(engine, database)


def reach(
    engine: Engine, setting: str, limits: Limits, *, forever: bool = False, then: Callable[[], object] = lambda: None
) -> None:
    """Wait until `engine`'s database answers, and `then()` has run: up to
    limits.start_wait seconds (or `forever`).

    A database that cannot be reached at start may be on its way up (a boot script
    started everything at once), so it is waited for, with the outage's log lines;
    but a wrong host must not leave a command waiting without end, so after
    start_wait it is a configuration fault. A database that answers no (no such
    database or role, a wrong password) is one at once. Either way: one line
    naming the database and `setting`, exit 2."""
    database = outage.of(engine).database
    deadline = None if forever else time.monotonic() + limits.start_wait
    try:
        outage.retrying(lambda: (_probe(engine), then()), [engine], threading.Event(), limits.retry_cap, deadline)
    except (sa_exc.DBAPIError, sqlite3.Error) as error:
        where = f"{outage.safe_url(engine)}, {setting}"
        if outage.transient(error):
            raise ConfigurationError(
                f"cannot reach the {database} database ({where}) in {limits.start_wait:.0f} s: {outage.describe(error)}"
            ) from None
        raise ConfigurationError(f"the {database} database ({where}) refuses: {outage.describe(error)}") from None


def _probe(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`. Safe to run from several processes at once: each
    holds one lock from before it reads the schema's revision until after its migration
    commits (see env.py), so the later ones find the work done."""
    with long_statements():
        alembic_command.upgrade(_alembic_config(engine), revision)


def open_database(settings: Settings | None = None, *, wait_forever: bool = False) -> Engine:
    """The supervision database, upgraded to the newest schema on first use.

    Waits for it up to SUPERVISE_DB_START_WAIT (`wait_forever`: a server's worker,
    whose parent has already checked it once) and then gives up with a
    ConfigurationError; see :func:`reach`."""
    settings = settings or load()
    limits = Limits.of(settings)
    engine = make_engine(settings.db_url_resolved, limits=limits)
    reach(engine, "SUPERVISE_DB_URL", limits, forever=wait_forever, then=lambda: _upgrade_if_behind(engine))
    return engine


def _upgrade_if_behind(engine: Engine) -> None:
    if current_revision(engine) != head_revision(engine):
        log.info("upgrading the supervision database to %s", head_revision(engine))
        upgrade(engine)


@click.group("db")
def db_command() -> None:
    """Manage the supervision database (SUPERVISE_DB_URL)."""


@db_command.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = load()
    limits = Limits.of(settings)
    engine = make_engine(settings.db_url_resolved, limits=limits)
    reach(engine, "SUPERVISE_DB_URL", limits)
    upgrade(engine, revision)
    click.echo(f"supervision database at revision {current_revision(engine)}")


@db_command.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    settings = load()
    engine = make_engine(settings.db_url_resolved, limits=Limits.of(settings))
    reach(engine, "SUPERVISE_DB_URL", Limits.of(settings))
    click.echo(current_revision(engine) or "empty (run: supervise db upgrade)")
