"""Dashboard users: `supervise user add NAME --role ROLE --scope ID` and the demo login."""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime

import click
from sqlalchemy import Engine, insert, select, update

from app import sessions
from app.auth import hash_password
from app.base.tables import users
from app.scope import ROLES

DEMO_USER = "demo"


def add_user(engine: Engine, name: str, password: str, role: str, scope_id: str, now: datetime) -> int:
    """Create a user, or replace the password, role and scope of an existing one.

    Replacing them ends every session of the user at once, in every web process.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if not name.strip() or not scope_id.strip():
        raise ValueError("a user needs a name and a scope id")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    values = dict(password_hash=hash_password(password), role=role, scope_id=scope_id.strip(), active=True)
    with engine.begin() as conn:
        existing = conn.execute(select(users.c.id).where(users.c.name == name.strip())).scalar()
        if existing is not None:
            conn.execute(update(users).where(users.c.id == existing).values(**values))
            sessions.end_all(conn, existing)
            return existing
        return conn.execute(
            insert(users).values(name=name.strip(), created_at=now, **values).returning(users.c.id)
        ).scalar_one()


def remove_user(engine: Engine, name: str) -> bool:
    """Deactivate a user (the audit trail keeps naming them) and end their sessions; False if there is none."""
    with engine.begin() as conn:
        existing = conn.execute(select(users.c.id).where(users.c.name == name.strip())).scalar()
        if existing is None:
            return False
        conn.execute(update(users).where(users.c.id == existing).values(active=False))
        sessions.end_all(conn, existing)
    return True


def ensure_demo_user(engine: Engine, scope_id: str | None = None) -> tuple[str, str]:
    """A region-wide demo login with a fresh random password, for `make demo` to print."""
    if scope_id is None:
        from app.base.database import make_engine
        from app.base.settings import load
        from app.queries.reference import read_reference

        scope_id = read_reference(make_engine(load().exchange_url_resolved)).region_id() or "region"
    password = secrets.token_urlsafe(9)
    add_user(engine, DEMO_USER, password, "region", scope_id, datetime.now(UTC))
    return DEMO_USER, password


@click.group("user")
def user_command() -> None:
    """Dashboard users."""


@user_command.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="region, city, center or department.")
@click.option("--scope", "scope_id", required=True, help="A center_id (region/city/center) or a dept_id (department).")
def user_add(name: str, role: str, scope_id: str) -> None:
    """Create NAME (or reset its password, role and scope, which logs it out everywhere); the password is read
    from standard input."""
    from app.base.database import open_database

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        add_user(open_database(), name, password, role, scope_id, datetime.now(UTC))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name}: role {role}, scope {scope_id}")


@user_command.command("remove")
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove NAME: it can no longer log in, and its open sessions end at once."""
    from app.base.database import open_database

    if not remove_user(open_database(), name):
        raise click.ClickException(f"no user {name!r}")
    click.echo(f"user {name}: removed, logged out everywhere")
