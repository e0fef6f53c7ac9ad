"""A Redis database number held alone, for tests and benchmarks alike.

Numbers 1–15 are claimed with a lock key in database 0, so concurrent runs
(other engineers, CI jobs, benchmarks) never share one; a database that
already holds keys is someone else's and is passed over. It is flushed after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis


@contextmanager
def claimed_database(url: str, *, hold_seconds: int, order=range(1, 16)) -> Iterator[str | None]:
    """The URL of a free database number under `url`, or None when all are taken."""
    lock_db = redis.Redis.from_url(url, db=0, socket_timeout=3, socket_connect_timeout=3)
    token = uuid.uuid4().hex
    for number in order:
        lock = f"supervise-test:db-lock:{number}"
        if not lock_db.set(lock, token, nx=True, ex=hold_seconds):
            continue
        db = redis.Redis.from_url(url, db=number, socket_timeout=10)
        if db.dbsize():
            lock_db.delete(lock)
            continue
        try:
            yield f"{url.rstrip('/')}/{number}"
        finally:
            db.flushdb()
            if lock_db.get(lock) == token.encode():
                lock_db.delete(lock)
        return
    yield None
