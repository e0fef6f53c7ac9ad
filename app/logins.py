"""Who may try a password now, and what a try costs.

* **Throttle.** Failed logins are counted in the database by the name typed (known
  or not, so a lock tells nothing about who exists) and by the address, over the
  last ``SUPERVISE_LOGIN_WINDOW_MINUTES``. At ``SUPERVISE_LOGIN_USER_FAILURES``
  for a name, or ``SUPERVISE_LOGIN_ADDR_FAILURES`` from an address, further tries
  are refused unchecked until enough failures age out of the window. The state
  lives in the supervision database, so every web process counts alike and a
  Redis outage changes nothing. A burst of parallel tries can pass the limit by
  the few that were checked at the same time; the next ones are refused.
* **Cost.** Every try that is not refused checks an argon2 hash, against a dummy
  hash when the name is unknown, so an unknown name answers as slowly as a wrong
  password. At most ``SUPERVISE_LOGIN_HASH_CONCURRENCY`` checks run at once in a
  process: each takes argon2's 64 MiB, and 48 parallel tries took a web process
  from 368 MiB to 1.1 GiB before.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select

from app.base.tables import web_login_failures

# A name is stored as typed, cut to this: no user has a longer one.
NAME_CHARS = 200
# How long a try waits for its turn to check a hash before it is told to come back.
HASH_WAIT_SECONDS = 30.0

hasher = PasswordHasher()


class Busy(Exception):
    """Too many password checks are running in this process; the try was not made."""


@dataclass(frozen=True)
class Policy:
    user_failures: int
    addr_failures: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(
            settings.login_user_failures, settings.login_addr_failures, timedelta(minutes=settings.login_window_minutes)
        )


def _key(name: str) -> str:
    return name[:NAME_CHARS]


def locked_until(engine: Engine, name: str, addr: str, now: datetime, policy: Policy) -> datetime | None:
    """When tries for `name` or from `addr` are allowed again, or None if they are now.

    Locked while the window holds the limit's number of failures: until the
    limit-th newest of them ages out.
    """
    since = now - policy.window
    until = None
    with engine.connect() as conn:
        for column, value, limit in (
            (web_login_failures.c.name, _key(name), policy.user_failures),
            (web_login_failures.c.remote_addr, addr, policy.addr_failures),
        ):
            nth = conn.execute(
                select(web_login_failures.c.at)
                .where(column == value, web_login_failures.c.at > since)
                .order_by(web_login_failures.c.at.desc())
                .offset(limit - 1)
                .limit(1)
            ).scalar()
            if nth is not None:
                until = max(until or nth + policy.window, nth + policy.window)
    return until


def record_failure(engine: Engine, name: str, addr: str, now: datetime, policy: Policy) -> None:
    """Count a failed try; failures older than the window are forgotten meanwhile."""
    with engine.begin() as conn:
        conn.execute(delete(web_login_failures).where(web_login_failures.c.at <= now - policy.window))
        conn.execute(insert(web_login_failures).values(name=_key(name), remote_addr=addr, at=now))


def forget_failures(engine: Engine, name: str) -> None:
    """A successful login clears its name's count (its address keeps its own)."""
    with engine.begin() as conn:
        conn.execute(delete(web_login_failures).where(web_login_failures.c.name == _key(name)))


class PasswordChecks:
    """Argon2 checks with a bounded number at once, and the same cost for unknown names."""

    def __init__(self, concurrency: int):
        self._slots = threading.BoundedSemaphore(concurrency)
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    def _dummy_hash(self) -> str:
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = hasher.hash(secrets.token_urlsafe(24))
            return self._dummy

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Does `password` match `password_hash`? None (an unknown name) costs the same and never matches.

        Raises :class:`Busy` when no turn came within HASH_WAIT_SECONDS.
        """
        target = password_hash or self._dummy_hash()
        if not self._slots.acquire(timeout=HASH_WAIT_SECONDS):
            raise Busy()
        try:
            matched = hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            matched = False
        finally:
            self._slots.release()
        return matched and password_hash is not None
