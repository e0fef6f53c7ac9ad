"""Database outages: which errors pass by themselves, and how a process waits them out.

A database that stops answering is a normal day: a restart, a fail-over, a
full disk, a link that drops or hangs. Every long-running process waits it
out. It retries with back-off, says so in one line when the outage starts and
one when it ends (naming the database, never its password), and counts it in
:mod:`app.base.metrics`. Only a fault that waiting cannot cure ends a process: a
database or role that does not exist, a wrong password, a missing table.

Engines made by :func:`app.base.database.make_engine` and
:func:`app.base.exchange.exchange_engine` report to their database's
:class:`Outage` by themselves (:func:`watch`): a transient error raised through
SQLAlchemy starts it, and the next statement that answers ends it. Code that
reads through the driver directly (COPY, the exchange tail) is covered by
:func:`wait_out`, whose probes go through SQLAlchemy.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable

from sqlalchemy import URL, Engine, event, text
from sqlalchemy import exc as sa_exc

from app.base import link_watch
from app.base.backoff import Backoff
from app.base.metrics import database_down, database_outages_total, database_transient_errors_total

log = logging.getLogger("supervise.outage")


RETRY_FIRST = 0.5  # seconds: the first retry window; a blip of a second is over before anyone notices
# An outage of writes is over once writes have gone through this long with none failing: a
# nearly full disk lets a small write through now and then, and fails the next larger one.
WRITES_SETTLE_SECONDS = 10.0
PROGRESS_SECONDS = 10.0  # a call that ran this long before it failed got somewhere (see retrying)

# What kind of fault an error is, when it passes without anyone changing our configuration:
LINK = "link"  # the database cannot be reached: it ends when any statement answers
WRITE = "write"  # it answers but cannot write (disk full or failing, locked, read-only while failing
#                  over): it ends when a write goes through
STATEMENT = "statement"  # one statement failed (timed out, deadlock, no lock, no pooled connection):
#                          try it again, but the database is not down

# SQLSTATEs, by class or in full. psycopg gives none for errors before a session
# exists (refused, reset, timed out, name not resolved): those are LINK faults too,
# unless the server said no in words that no wait can change (_REFUSALS).
_SQLSTATES = {
    "08": LINK,
    "57P01": LINK,
    "57P02": LINK,
    "57P03": LINK,
    "53300": LINK,
    "53": WRITE,
    "58": WRITE,
    "25006": WRITE,
    "57014": STATEMENT,
    "55P03": STATEMENT,
    "40": STATEMENT,
}
_REFUSALS = (
    "does not exist",
    "password authentication failed",
    "no pg_hba.conf entry",
    "authentication failed",
    "permission denied",
    "no password supplied",
    "invalid sslmode",
    "invalid connection option",
    "invalid integer value",
    "invalid port",
)
# SQLite errors that pass: a writer holding the lock past the busy timeout, a failing
# or full disk, a file briefly unreadable.
_SQLITE_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
    "locking protocol",
)


def _driver_error(error: BaseException) -> BaseException:
    return getattr(error, "orig", None) or error


def kind(error: BaseException) -> str | None:
    """LINK, WRITE or STATEMENT for a database fault that passes by itself; None for any other error."""
    if isinstance(error, sa_exc.TimeoutError):  # every pooled connection busy: they come back
        return STATEMENT
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return LINK
    cause = _driver_error(error)
    if isinstance(cause, sqlite3.OperationalError):
        message = str(cause).lower()
        return WRITE if any(m in message for m in _SQLITE_TRANSIENT) else None
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    if isinstance(cause, psycopg.InterfaceError):
        return LINK if "closed" in str(cause) or "lost" in str(cause) else None  # a link cut under a statement
    if not isinstance(cause, psycopg.Error):
        return None
    state = cause.sqlstate
    if state is None:
        return LINK if isinstance(cause, psycopg.OperationalError) and not refused(cause) else None
    return _SQLSTATES.get(state) or _SQLSTATES.get(state[:2])


def transient(error: BaseException) -> bool:
    """True when `error` is a database fault that passes by itself: wait and try again."""
    return kind(error) is not None


def refused(error: BaseException) -> bool:
    """True when the server answered, and said no in a way no wait can change (no such
    database or role, a wrong password, a connection option it does not know)."""
    message = str(_driver_error(error)).lower()
    return any(words in message for words in _REFUSALS)


def describe(error: BaseException) -> str:
    """The driver's own words for `error`, on one line (no traceback, no SQL)."""
    cause = _driver_error(error)
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return " ".join(lines[:2]) or type(cause).__name__


class Outage:
    """One database as this process sees it: answering, or down since an instant."""

    def __init__(self, database: str, where: str = ""):
        self.database = database  # "supervision", "exchange"
        self.where = where  # its URL without the password
        self.since: float | None = None  # monotonic instant it went down
        self.kind: str | None = None  # LINK or WRITE while down
        self.writes_from: float | None = None  # in an outage of writes: since when writes go through
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException) -> None:
        """A call failed with `error`; a LINK or WRITE fault starts an outage, if none is on."""
        found = kind(error)
        if found is None:
            return
        database_transient_errors_total.labels(self.database).inc()
        if found == STATEMENT:
            return
        with self._lock:
            if self.since is not None:
                if found == WRITE:
                    self.writes_from = None  # writes fail still
                return
            self.since, self.kind, self.writes_from = time.monotonic(), found, None
        database_down.labels(self.database).set(1)
        database_outages_total.labels(self.database).inc()
        if not _quiet:
            log.error(
                "the %s database%s is unavailable: %s; waiting it out",
                self.database,
                self._where(),
                _why(self.database, error),
            )

    def answered(self, wrote: bool = True) -> None:
        """A call went through: the outage, if any, is over. A read (`wrote` false) does
        not end an outage of writes (a full disk still lets every SELECT through); writes
        end it once they have gone through for WRITES_SETTLE_SECONDS with none failing."""
        if self.since is None:  # the usual case, on every statement: one comparison
            return
        now = time.monotonic()
        with self._lock:
            if self.since is None:
                return
            ended = now
            if self.kind == WRITE:
                if wrote and self.writes_from is None:
                    self.writes_from = now
                if self.writes_from is None or now - self.writes_from < WRITES_SETTLE_SECONDS:
                    return
                ended = self.writes_from
            since, self.since, self.kind, self.writes_from = self.since, None, None, None
        database_down.labels(self.database).set(0)
        if not _quiet:
            log.warning("the %s database%s is back after %.0f s", self.database, self._where(), ended - since)

    def _where(self) -> str:
        return f" ({self.where})" if self.where else ""


def _why(database: str, error: BaseException) -> str:
    silent = link_watch.cut_lately(database)
    return f"no answer for {silent:.0f} s, so the link was cut" if silent else describe(error)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage(database: str, where: str = "") -> Outage:
    """This process's view of `database` (one per name, shared by its engines)."""
    with _outages_lock:
        found = _outages.get(database)
        if found is None:
            found = _outages[database] = Outage(database, where)
        elif where and not found.where:
            found.where = where
        return found


_quiet = False


def quiet() -> None:
    """In a helper process forked to share its parent's work: the parent reports outages."""
    global _quiet
    _quiet = True


_WATCHED: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()  # engine -> its database


def watch(engine: Engine, database: str) -> Engine:
    """Make `engine` report to the Outage of `database` as its statements fail or answer."""
    found = outage(database, safe_url(engine))
    _WATCHED[engine] = database

    @event.listens_for(engine, "handle_error")
    def _failed(context) -> None:
        # A stale pooled connection failing its ping is replaced at once, and only the
        # reconnect's error counts; unless the link was cut for a hang, which is an outage.
        if not context.is_pre_ping or link_watch.cut_lately(database):
            found.failed(context.original_exception)

    @event.listens_for(engine, "after_cursor_execute")
    def _answered(_conn, _cursor, _statement, _parameters, context, _many) -> None:
        if found.since is not None:
            found.answered(
                wrote=bool(context is not None and (context.isinsert or context.isupdate or context.isdelete))
            )

    return engine


def safe_url(engine: Engine) -> str:
    """The engine's URL as a log line may show it: no password."""
    url = engine.url
    return URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query).render_as_string(
        hide_password=False
    )


def of(engine: Engine) -> Outage:
    """The Outage `engine` reports to."""
    return outage(_WATCHED.get(engine, "supervision"))


def answers(engine: Engine) -> bool:
    """One probe: True when `engine`'s database runs a statement now. A permanent fault raises."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception as error:
        if transient(error):
            return False
        raise


def backoff(cap: float) -> Backoff:
    return Backoff(RETRY_FIRST, max(cap, RETRY_FIRST))


def wait_out(engines: list[Engine], stop: threading.Event, cap: float, deadline: float | None = None) -> bool:
    """Probe each of `engines` with back-off until all answer; True then. False if `stop`
    was set or the monotonic `deadline` passed first. The engines' Outages log the start
    and the end of an outage."""
    waits = backoff(cap)
    while not stop.is_set():
        if all([answers(engine) for engine in engines]):  # a list: probe every one, each reports its own
            return True
        if not _pause(stop, waits.next_delay(), deadline):
            return False
    return False


def _pause(stop: threading.Event, seconds: float, deadline: float | None) -> bool:
    """Wait `seconds` (less if `deadline` comes first); False if stopped or past the deadline."""
    if deadline is not None:
        if time.monotonic() >= deadline:
            return False
        seconds = min(seconds, deadline - time.monotonic())
    return not stop.wait(max(seconds, 0.0))


def retrying(
    call: Callable[[], object],
    engines: list[Engine],
    stop: threading.Event,
    cap: float,
    deadline: float | None = None,
    patience: float | None = None,
):
    """`call()`, tried again after each transient database error, once `engines` answer; its result.

    Only for calls that may run twice: a transaction that failed may have committed
    (its COMMIT sent, the answer lost), so `call` must find out what is already done,
    as everything that reads a cursor or a state from the database does. Raises the
    last error when `stop` is set, when the monotonic `deadline` passes, or when
    failures have gone on for `patience` seconds (a call that ran a while before it
    failed starts the count again: it got somewhere)."""
    waits = backoff(cap)
    given, streak_from = deadline, None
    while True:
        started = time.monotonic()
        try:
            result = call()
        except Exception as error:
            if not transient(error):
                raise
            if not any(of(engine).down for engine in engines):
                log.warning("a database call failed and is tried again: %s", describe(error))
            if streak_from is None or time.monotonic() - started > PROGRESS_SECONDS:
                streak_from = started
            if patience is not None:
                deadline = min(given or float("inf"), streak_from + patience)
            if not (wait_out(engines, stop, cap, deadline) and _pause(stop, waits.next_delay(), deadline)):
                raise
            continue
        for engine in engines:
            of(engine).answered()
        return result
