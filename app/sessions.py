"""Server-side web sessions: a login is a row in ``web_sessions``, so it can be ended.

The session cookie (Flask's, signed) carries a random token; the database keeps its
sha256 and the user it belongs to. Every request reads that row (a primary-key
look-up joined with the user), so when a row goes, the session is over at the
next request in every web process: at logout, when the user's password, role or
scope changes, and when the user is removed. A session unused for
``SUPERVISE_SESSION_HOURS`` ends by itself; use moves its end on, at most once a
minute, so a wall screen that polls stays logged in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from app.base.tables import users, web_sessions

# How stale the stored end may be before a request moves it on: one write a minute
# per busy session instead of one per poll.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionUser:
    """The user a live session belongs to, as its row reads now."""

    id: int
    name: str
    role: str
    scope_id: str
    password_hash: str


# Built once: every request runs it.
_LIVE_SESSION = (
    select(web_sessions.c.expires_at, users.c.id, users.c.name, users.c.role, users.c.scope_id, users.c.password_hash)
    .join(users, users.c.id == web_sessions.c.user_id)
    .where(web_sessions.c.token_hash == bindparam("token_hash"), users.c.active.is_(True))
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(engine: Engine, user_id: int, now: datetime, lifetime: timedelta, remote_addr: str | None) -> str:
    """A new session for `user_id`; returns the token for the cookie. Ended sessions are swept away meanwhile."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
        conn.execute(
            insert(web_sessions).values(
                token_hash=digest(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + lifetime,
                remote_addr=remote_addr,
            )
        )
    return token


def user_of(engine: Engine, token: str, now: datetime, lifetime: timedelta) -> SessionUser | None:
    """The active user of a live session, or None (ended, expired, unknown, or the user removed)."""
    key = digest(token)
    # A statement on its own (autocommit): the driver sends no BEGIN before it and no
    # ROLLBACK after it, two round trips fewer on every request.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_LIVE_SESSION, {"token_hash": key}).mappings().first()
    if row is None or row["expires_at"] <= now:
        return None
    if row["expires_at"] - lifetime < now - TOUCH_EVERY:
        with engine.begin() as conn:
            conn.execute(update(web_sessions).where(web_sessions.c.token_hash == key).values(expires_at=now + lifetime))
    return SessionUser(row["id"], row["name"], row["role"], row["scope_id"], row["password_hash"])


def end(engine: Engine, token: str) -> None:
    """Logout: this session is over, in every web process."""
    with engine.begin() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == digest(token)))


def end_all(conn, user_id: int) -> int:
    """Every session of a user (password, role or scope changed, user removed), inside the caller's transaction."""
    return conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id)).rowcount
