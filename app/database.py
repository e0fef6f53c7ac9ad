"""The supervision database: engines, migrations and `supervise db`.

Commands that need the database call :func:`open_database`, which upgrades it
to the newest migration on first use, so a fresh machine needs no set-up step.
"""
from __future__ import annotations

import logging
from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from app.settings import Settings, load

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for either backend; SQLite gets WAL and a busy timeout so readers never block the writer."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, connect_args={"connect_timeout": 10}, **kwargs)


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
    """Bring the schema to `revision`. Safe to run from several processes at once (see env.py)."""
    alembic_command.upgrade(_alembic_config(engine), revision)


def open_database(settings: Settings | None = None) -> Engine:
    """The supervision database, upgraded to the newest schema on first use."""
    settings = settings or load()
    engine = make_engine(settings.db_url_resolved)
    if current_revision(engine) != head_revision(engine):
        log.info("upgrading the supervision database to %s", head_revision(engine))
        upgrade(engine)
    return engine


@click.group("db")
def db_command() -> None:
    """Manage the supervision database (SUPERVISE_DB_URL)."""


@db_command.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target migration.")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = load()
    engine = make_engine(settings.db_url_resolved)
    upgrade(engine, revision)
    click.echo(f"supervision database at revision {current_revision(engine)}")


@db_command.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    engine = make_engine(load().db_url_resolved)
    click.echo(current_revision(engine) or "empty (run: supervise db upgrade)")
