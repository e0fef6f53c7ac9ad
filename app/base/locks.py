"""Locks that several processes on one supervision database take, by name.

The lock is one the database already provides, released by the server or the
operating system when its holder dies:

* PostgreSQL: a session advisory lock, on a connection of its own, so that it is
  held across the commits of the work it guards (a transaction-level lock would
  end with the first of them);
* SQLite: an exclusive ``flock`` on a file beside the database file.

A SQLite database in memory lives in one process; it needs no lock.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


def key(name: str) -> int:
    """The advisory lock key of `name` (64 bits of its hash)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_file(engine: Engine, name: str) -> Path | None:
    """The file beside a SQLite database whose flock is the lock `name`; None in memory."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(database).with_suffix(f".{name}.lock")


@contextmanager
def holding(engine: Engine, name: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold lock `name` for the block; yields False (at once) if `wait` is false and another holds it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
            got = conn.execute(text(f"SELECT {function}(:k)"), {"k": key(name)}).scalar() is not False
            conn.commit()  # the lock is the session's: it outlives this transaction
            try:
                yield got
            finally:
                if got and not conn.invalidated:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key(name)})
                    conn.commit()
        return
    path = lock_file(engine, name)
    if path is None:
        yield True
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
