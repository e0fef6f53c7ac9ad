"""The transactional outbox of alarm changes, and the relay that puts it on the alarm stream.

Every alarm change (the ingest's judgements, camera and rating alarms,
escalations, officers' actions) is written to ``alarm_outbox`` by
:func:`write`, in the same transaction as the change itself: the change and
its message commit together or not at all. A Redis outage then delays the
message, and never loses it.

The relay (:class:`Relay`) publishes the outbox to the stream
``supervise:alarms`` (:mod:`app.base.alarm_stream`). One pass:

1. *claim*: in one transaction, take the relay row (``alarm_outbox_relay``;
   the UPDATE is also the lock that orders relays, and leaves a lease) and
   read the pending rows in stream order: first those already given an entry
   id whose publication was not seen (a pass that failed, or died between
   publishing and marking), then new ones in outbox order, each given the next
   entry id ``<ms>-<seq>`` (ms from this machine's clock, never below the last
   given);
2. *publish*: XADD each row with its own entry id, in that order, in one pipeline;
3. *mark*: rows seen on the stream are marked published; the lease is released.

Exactly once. An entry id is given once, in a committed transaction, before
the row is ever sent, and every re-send carries the same id. Redis refuses an
XADD whose id is not above the stream's last, so a row sent twice (a crash
between publishing and marking; two relays sending the same rows at once, on
any machines) is added once, and a refused row counts as published when its id
is on the stream. Since every relay sends in entry-id order, a refused id that
is not on the stream was overtaken by a writer that is not a relay (another
clock's id, or a process of an older version); it gets a new id after the
stream's last and goes again, later than it should but still once.

Why not derive the entry id from the outbox id: outbox ids are handed out
before commit, and concurrent transactions (the ingest's judging workers,
officers' actions, escalation sweeps) commit them out of order. A relay that
had sent 11 could then never add 10, committed just after. The relay hands
out entry ids in the order it sees rows committed instead; changes of one
alarm are serialised by its row lock, so they keep their order.

The lease (LEASE) only saves work: while one relay publishes, the others skip
their pass instead of sending the same rows; a relay that dies holding it is
replaced when it runs out.

Who relays: the active ingest (nudged after every commit, so its changes
reach the stream within milliseconds) and every web process (nudged after an
officer's action, and otherwise looking every second). Officers' actions thus
reach the stream with no ingest running, and every change does as long as any
one of them runs. ``supervise alarm`` and ``supervise escalate`` try a pass
themselves. Published rows are pruned after KEEP.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis as redis_lib
from sqlalchemy import Engine, bindparam, delete, func, insert, or_, select, text, tuple_, union_all, update
from sqlalchemy.exc import SQLAlchemyError

from app.base import metrics, outage
from app.base.alarm_stream import STREAM, STREAM_MAXLEN, AlarmChange
from app.base.messaging import RETRY_FIRST, RETRY_MAX, link_of
from app.base.tables import alarm_outbox, alarm_outbox_relay

log = logging.getLogger(__name__)

NAME = "alarms"  # the relay row
BATCH = 2000  # changes per pass
LEASE = timedelta(seconds=15)  # longer than a pass that waits out Redis's socket timeout
KEEP = timedelta(hours=1)  # published rows are kept this long (the stream keeps ~100,000 entries)
PRUNE_SECONDS = 60.0
BACKLOG_SECONDS = 5.0  # the backlog gauges are refreshed this often


def _wall() -> datetime:
    return datetime.now(UTC)


# --- writing --------------------------------------------------------------------------------------


def rows(changes: Sequence[AlarmChange]) -> list[tuple[int, str]]:
    """(alarm_id, message) of each change, in order: the outbox columns OUTBOX_COLUMNS."""
    return [(change.alarm_id, change.body()) for change in changes]


OUTBOX_COLUMNS = ("alarm_id", "message")


def write(conn, changes: Sequence[AlarmChange]) -> None:
    """Put `changes` in the outbox, in the caller's transaction (the one that made them)."""
    if changes:
        conn.execute(insert(alarm_outbox), [dict(zip(OUTBOX_COLUMNS, row)) for row in rows(changes)])


# --- the backlog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    count: int  # changes not yet on the stream
    oldest_seconds: float  # how long the oldest of them has waited (0: none)


def backlog(engine: Engine) -> Backlog:
    """What waits in the outbox, by the database's clock (the one that stamped it)."""
    with engine.connect() as conn:
        count, oldest, now = conn.execute(
            select(func.count(), func.min(alarm_outbox.c.written_at), func.now()).where(
                alarm_outbox.c.published_at.is_(None)
            )
        ).one()
    if not count or oldest is None:
        return Backlog(0, 0.0)
    return Backlog(count, max((_utc(now) - _utc(oldest)).total_seconds(), 0.0))


def _utc(value) -> datetime:
    if isinstance(value, str):  # SQLite's CURRENT_TIMESTAMP
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def refresh_gauges(engine: Engine) -> Backlog:
    found = backlog(engine)
    metrics.outbox_backlog.set(found.count)
    metrics.outbox_oldest_seconds.set(found.oldest_seconds)
    return found


def prune(engine: Engine, before: datetime, chunk: int = 10_000) -> int:
    """Delete rows published before `before`, a chunk per transaction; how many."""
    pruned = 0
    while True:
        with engine.begin() as conn:
            ids = select(alarm_outbox.c.id).where(alarm_outbox.c.published_at < before).limit(chunk)
            done = conn.execute(delete(alarm_outbox).where(alarm_outbox.c.id.in_(ids.scalar_subquery()))).rowcount
        pruned += done
        if done < chunk:
            return pruned


# --- the relay ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    message: str
    entry: tuple[int, int]  # (ms, seq) of the stream entry id

    @property
    def entry_id(self) -> str:
        return f"{self.entry[0]}-{self.entry[1]}"


class Relay:
    """Publishes the outbox to the alarm stream: a pass at a time (:meth:`relay_once`), or on
    a thread of its own (:meth:`start`) that passes when nudged and every `every` seconds."""

    def __init__(
        self, engine: Engine, redis, *, name: str = "relay", every: float = 1.0, clock: Callable[[], datetime] = _wall
    ):
        self.engine, self.redis, self.name, self.every = engine, redis, name, every
        self._clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{name}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()

    # --- one pass -----------------------------------------------------------------------------
    def relay_once(self, limit: int = BATCH) -> int:
        """Publish up to `limit` pending changes; how many rows were dealt with (0: none pending,
        or another relay holds the lease). Raises redis.RedisError when Redis cannot be reached:
        what was claimed stays in the outbox, with its entry ids, for the next pass."""
        return self._pass(limit, look_first=True)[0]

    def drain(self, limit: int = BATCH, *, look_first: bool = True) -> int:
        """Passes until nothing is left to do (or another relay holds the lease); rows dealt with.
        Without `look_first` the first pass claims at once (the caller knows changes wait)."""
        total = 0
        while True:
            done, more = self._pass(limit, look_first)
            total += done
            if not more:
                return total
            look_first = False

    def _pass(self, limit: int, look_first: bool) -> tuple[int, bool]:
        """One pass: (rows dealt with, whether more may wait)."""
        with self._pass_lock:
            # A cheap read first, so that idle relays (every web process, each second) write nothing.
            if look_first and not self._any_pending():
                return 0, False
            link = link_of(self.redis)
            if link is not None and link.down:
                self.redis.ping()  # the try of the back-off, before claiming anything
            claimed = self._claim(limit)
            if not claimed:
                return 0, False
            try:
                seen, overtaken, top = self._publish(claimed)
            except BaseException:
                self._release()
                raise
            self._mark(seen, overtaken, top)
            return len(seen) + len(overtaken), len(claimed) == limit or bool(overtaken)

    def _any_pending(self) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(select(alarm_outbox.c.id).where(alarm_outbox.c.published_at.is_(None)).limit(1)).first()
                is not None
            )

    def _claim(self, limit: int) -> list[_Claimed]:
        """Take the lease and the rows of this pass, giving new rows their entry ids (one transaction)."""
        outbox, relay = alarm_outbox, alarm_outbox_relay
        now = self._clock()
        with self.engine.begin() as conn:
            lease = conn.execute(
                update(relay)
                .where(
                    relay.c.name == NAME,
                    or_(relay.c.holder.is_(None), relay.c.holder == self.holder, relay.c.held_until < now),
                )
                .values(holder=self.holder, held_until=now + LEASE)
                .returning(relay.c.last_ms, relay.c.last_seq)
            ).first()
            if lease is None:
                _ensure_relay_row(conn)
                return []  # another relay is publishing
            # Rows sent before (few: a pass that failed) in entry-id order, then new ones in outbox
            # order; one round trip, each part by its own index.
            pending = outbox.c.published_at.is_(None)
            columns = (outbox.c.id, outbox.c.message, outbox.c.stream_ms, outbox.c.stream_seq)
            sent = (
                select(*columns)
                .where(pending, outbox.c.stream_ms.is_not(None))
                .order_by(outbox.c.stream_ms, outbox.c.stream_seq)
                .limit(limit)
                .subquery()
            )
            new = (
                select(*columns)
                .where(pending, outbox.c.stream_ms.is_(None))
                .order_by(outbox.c.id)
                .limit(limit)
                .subquery()
            )
            rows = conn.execute(union_all(select(sent), select(new))).all()
            rows.sort(key=lambda r: (r.stream_ms is None, r.stream_ms or 0, r.stream_seq or 0, r.id))
            rows = rows[:limit]
            if not rows:  # published meanwhile by another relay: the lease goes back at once
                conn.execute(update(relay).where(relay.c.name == NAME).values(holder=None, held_until=None))
                return []
            claimed = [_Claimed(r.id, r.message, (r.stream_ms, r.stream_seq)) for r in rows if r.stream_ms is not None]
            claimed += self._give_entry_ids(
                conn, [r for r in rows if r.stream_ms is None], (lease.last_ms, lease.last_seq)
            )
        return claimed

    def _give_entry_ids(self, conn, new: list, last: tuple[int, int]) -> list[_Claimed]:
        """Entry ids after `last`, rising with the outbox id: <ms>-<seq + (id - first id)> in one statement."""
        if not new:
            return []
        ms = max(time.time_ns() // 1_000_000, last[0])
        base = last[1] + 1 if ms == last[0] else 0
        first = new[0].id
        ids = [row.id for row in new]
        conn.execute(
            update(alarm_outbox)
            .where(alarm_outbox.c.id.in_(bindparam("ids", expanding=True)))
            .values(stream_ms=ms, stream_seq=base + alarm_outbox.c.id - first),
            {"ids": ids},
        )
        conn.execute(
            update(alarm_outbox_relay)
            .where(alarm_outbox_relay.c.name == NAME)
            .values(last_ms=ms, last_seq=base + ids[-1] - first)
        )
        return [_Claimed(row.id, row.message, (ms, base + row.id - first)) for row in new]

    def _publish(self, claimed: list[_Claimed]) -> tuple[list[int], list[int], tuple[int, int] | None]:
        """XADD every claimed row with its entry id, in order. Returns the rows now on the stream, the
        rows overtaken (refused, and not on it), and the stream's last id when anything was refused."""
        pipe = self.redis.pipeline(transaction=False)
        for row in claimed:
            pipe.xadd(
                STREAM,
                {"json": row.message, "change_id": row.id},
                id=row.entry_id,
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        replies = pipe.execute(raise_on_error=False)
        seen = [row.id for row, reply in zip(claimed, replies) if not isinstance(reply, Exception)]
        refused = [row for row, reply in zip(claimed, replies) if isinstance(reply, Exception)]
        metrics.outbox_published_total.inc(len(seen))
        if not refused:
            return seen, [], None
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrange(STREAM, refused[0].entry_id, refused[-1].entry_id)
        pipe.xrevrange(STREAM, "+", "-", count=1)
        present, last = pipe.execute()
        on_stream = {_entry(entry_id) for entry_id, _ in present}
        top = _entry(last[0][0]) if last else None
        overtaken = []
        # (A row sent before cannot have been trimmed off since: sent rows are sent again before any
        # new one, so at most a pass's worth of entries came after it.)
        for row in refused:
            if row.entry in on_stream:
                seen.append(row.id)  # sent before
            elif top is not None and row.entry < top:
                overtaken.append(row.id)
            # else: refused for another reason (Redis out of memory…): tried again next pass, same id
        if overtaken:
            log.warning(
                "%d alarm change(s) were overtaken on the stream by an entry the relay did not write "
                "(stream last id %s-%s); they are sent again after it",
                len(overtaken),
                *top,
            )
        return seen, overtaken, top

    def _mark(self, seen: list[int], overtaken: list[int], top: tuple[int, int] | None) -> None:
        outbox, relay = alarm_outbox, alarm_outbox_relay
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Not worth waiting for the disk: a mark lost in a server crash only means the rows
                # are sent again, and Redis refuses them. (The claim, which gives the ids, waits.)
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            if seen:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
                    .values(published_at=self._clock()),
                    {"ids": seen},
                )
            if overtaken:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(bindparam("ids", expanding=True)), outbox.c.published_at.is_(None))
                    .values(stream_ms=None, stream_seq=None),
                    {"ids": overtaken},
                )
                conn.execute(
                    update(relay)
                    .where(relay.c.name == NAME, tuple_(relay.c.last_ms, relay.c.last_seq) < tuple_(*top))
                    .values(last_ms=top[0], last_seq=top[1])
                )
            conn.execute(
                update(relay)
                .where(relay.c.name == NAME, relay.c.holder == self.holder)
                .values(holder=None, held_until=None)
            )

    def _release(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(alarm_outbox_relay)
                    .where(alarm_outbox_relay.c.name == NAME, alarm_outbox_relay.c.holder == self.holder)
                    .values(holder=None, held_until=None)
                )
        except SQLAlchemyError:  # the lease runs out by itself
            pass

    # --- on a thread of its own ----------------------------------------------------------------
    def start(self) -> Relay:
        """Relay on a thread (``<name>``) until :meth:`close`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def nudge(self) -> bool:
        """Changes were committed: relay now, on the thread, or here and now if there is none.
        False when a pass here failed: the changes wait in the outbox for the next relay."""
        if self._thread is not None:
            self._wake.set()
            return True
        try:
            self.drain()
        except (redis_lib.RedisError, SQLAlchemyError) as exc:
            log.info("alarm changes wait in the outbox: %s", exc)
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        delay, failing = RETRY_FIRST, None
        chores = _Chores(self.engine, self._clock)
        nudged = False
        while not self._stop.is_set():
            self._wake.clear()  # before the pass: a nudge that comes during it makes another at once
            try:
                self.drain(look_first=not nudged)
                if failing in ("database", "bug"):  # outages of Redis and the database have their own lines
                    log.warning("%s: the alarm outbox is being published again", self.name)
                delay, failing = RETRY_FIRST, None
            except redis_lib.RedisError as exc:  # the Redis link logs the outage, once
                failing = failing or "redis"
                log.debug("%s: cannot publish now: %s", self.name, exc)
            except SQLAlchemyError as exc:
                if outage.transient(exc):  # the database's outage has its own lines (app.base.outage)
                    failing = failing or "database outage"
                else:
                    if failing != "database":
                        log.warning(
                            "%s: cannot read the alarm outbox (%s); retrying with back-off",
                            self.name,
                            getattr(exc, "orig", None) or exc,
                        )
                    failing = "database"
            except Exception:
                log.exception("%s: unexpected failure; retrying with back-off", self.name)
                failing = "bug"
            chores.run()
            if failing is not None:
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                nudged = False
                continue
            nudged = self._wake.wait(self.every)


class _Chores:
    """The relay thread's side work: backlog gauges, pruning; a failure waits for the next round."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self.engine, self._clock = engine, clock
        self._gauges_at = self._pruned_at = 0.0

    def run(self) -> None:
        now = time.monotonic()
        try:
            if now - self._gauges_at >= BACKLOG_SECONDS:
                self._gauges_at = now
                refresh_gauges(self.engine)
            if now - self._pruned_at >= PRUNE_SECONDS:
                self._pruned_at = now
                prune(self.engine, self._clock() - KEEP)
        except SQLAlchemyError:
            pass  # the database is down: the relay's own pass says so


def publish_now(engine: Engine, redis, name: str) -> bool:
    """For a command that has just committed a change: one try at publishing what waits.
    False when it could not: a running ingest or web server publishes it later."""
    return Relay(engine, redis, name=name).nudge()


WAITS = (
    "the alarm stream cannot be reached now: the change waits in the outbox, and a running ingest or web "
    "server publishes it"
)


def _ensure_relay_row(conn) -> None:
    """The relay row, for a database whose tables were made without the migrations (which insert it)."""
    if conn.execute(select(alarm_outbox_relay.c.name).where(alarm_outbox_relay.c.name == NAME)).first() is None:
        conn.execute(insert(alarm_outbox_relay).values(name=NAME, last_ms=0, last_seq=0))


def _entry(entry_id) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)
