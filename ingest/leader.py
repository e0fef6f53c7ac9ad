"""Exactly one active ingest per supervision database.

Several `supervise ingest` processes may run against one exchange database;
the one holding the lock works, the others wait and take over within seconds
when it dies. The lock is one the databases already provide, released by the
operating system or the server when its holder dies:

* PostgreSQL: a session advisory lock on a dedicated connection;
* SQLite: an exclusive ``flock`` on a file beside the database.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Leadership:
    """A non-blocking lock named `name` in the supervision database."""

    def __init__(self, engine: Engine, name: str = "supervise-ingest"):
        self.engine = engine
        self.name = name
        self._connection = None
        self._file = None

    def try_acquire(self) -> bool:
        if self.held():
            return True
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            try:
                got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(self.name)}).scalar()
                connection.commit()
            except Exception:  # an outage: the caller waits it out; the connection goes back now
                connection.close()
                raise
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        path = Path(self.engine.url.database or "supervise").with_suffix(f".{self.name}.lock")
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        try:  # who holds it, for a person looking; a full disk must not cost us the lock
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as exc:
            log.debug("cannot write the pid into %s: %s", path, exc)
        self._file = handle
        return True

    def held(self) -> bool:
        """True while the lock is ours; a lost database connection means it is not."""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        # Pinged past SQLAlchemy, as its pool pings a connection it hands out: a link that died
        # in an outage now over is a lock lost, not a new outage (a new link's failure is one).
        link = self._connection.connection.dbapi_connection
        try:
            link.execute("SELECT 1")
            link.commit()
            return True
        except Exception:
            log.warning("lost the ingest lock connection; standing down")
            connection, self._connection = self._connection, None
            connection.invalidate()  # closed, never pooled again: no rollback on a dead link
            connection.close()
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(self.name)})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> Leadership:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
