"""The alarm outbox and its relay: every change on the stream exactly once, in order,
whatever crashes, outages and concurrent relays happen (app/base/outbox.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
import redis as redis_lib
from sqlalchemy import func, select

from app.base import outbox
from app.base.alarm_stream import STREAM, AlarmChange, read_after
from app.base.database import make_engine, upgrade
from app.base.messaging import connect_url
from app.base.tables import alarm_outbox, alarm_outbox_relay
from tests.faultproxy import FaultProxy

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def change(alarm_id: int, action: str = "fired", n: int = 0) -> AlarmChange:
    return AlarmChange(
        alarm_id=alarm_id,
        action=action,
        actor="system",
        kind="promise_overdue",
        level="alarm",
        state="open",
        subject=str(n),
        fired_at=AT,
        at=AT + timedelta(seconds=n),
    )


def write(engine, changes: list[AlarmChange]) -> None:
    with engine.begin() as conn:
        outbox.write(conn, changes)


def stream(client) -> list[AlarmChange]:
    _, changes = read_after(client, "0-0", count=1_000_000)
    return changes


def outbox_ids(engine, published: bool | None = None) -> list[int]:
    query = select(alarm_outbox.c.id).order_by(alarm_outbox.c.id)
    if published is not None:
        query = query.where(
            alarm_outbox.c.published_at.is_not(None) if published else alarm_outbox.c.published_at.is_(None)
        )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


@pytest.fixture
def engine(sqlite_url):
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


class Crash(BaseException):
    """The relay's process dies here."""


def test_published_in_order_with_the_change_id_and_marked(engine):
    client = fakeredis.FakeRedis()
    write(engine, [change(1, n=0), change(1, "resolved", n=1)])
    write(engine, [change(2, n=2)])
    assert outbox.backlog(engine).count == 3
    assert outbox.Relay(engine, client).drain() == 3
    on_stream = stream(client)
    assert [(c.alarm_id, c.action) for c in on_stream] == [(1, "fired"), (1, "resolved"), (2, "fired")]
    assert [c.change_id for c in on_stream] == outbox_ids(engine) == outbox_ids(engine, published=True)
    assert outbox.backlog(engine) == outbox.Backlog(0, 0.0)
    assert outbox.Relay(engine, client).drain() == 0  # nothing twice


@pytest.mark.parametrize("where", ["_publish", "_mark"])
def test_a_crash_before_or_after_publishing_sends_each_change_once(engine, where, monkeypatch):
    """Entry ids are given and committed before the first send, so a relay that dies anywhere
    leaves the next one the very same ids: Redis refuses what it already has."""
    client = fakeredis.FakeRedis()
    write(engine, [change(a, n=a) for a in range(1, 6)])
    dying = outbox.Relay(engine, client)
    real = getattr(outbox.Relay, where)

    def crash_after(self, *args):
        real(self, *args)
        raise Crash

    monkeypatch.setattr(dying, where, crash_after.__get__(dying))
    with pytest.raises(Crash):
        dying.relay_once()
    assert len(stream(client)) == 5 and outbox.backlog(engine).count == (5 if where == "_publish" else 0)
    write(engine, [change(6, n=6)])
    monkeypatch.setattr(outbox, "LEASE", timedelta(0))  # the dead relay's lease has run out
    outbox.Relay(engine, client).drain()
    assert [c.alarm_id for c in stream(client)] == [1, 2, 3, 4, 5, 6]
    assert [c.change_id for c in stream(client)] == outbox_ids(engine, published=True)


def test_a_live_lease_makes_other_relays_wait(engine):
    client = fakeredis.FakeRedis()
    write(engine, [change(1)])
    holder = outbox.Relay(engine, client)
    assert holder._claim(10)  # holds the lease now, mid-pass
    assert outbox.Relay(engine, client).relay_once() == 0  # another relay skips its pass
    holder._release()
    assert outbox.Relay(engine, client).relay_once() == 1


def test_an_entry_overtaken_by_a_foreign_writer_is_sent_again_once(engine, monkeypatch):
    """A writer that is not a relay (an older process publishing directly) puts an entry with a
    higher id on the stream between the relay's claim and its send: the refused rows get new ids."""
    client = fakeredis.FakeRedis()
    write(engine, [change(1), change(2)])
    relay = outbox.Relay(engine, client)
    claim = outbox.Relay._claim

    def claim_then_foreign_write(self, limit):
        claimed = claim(self, limit)
        client.xadd(STREAM, {"json": change(99).body()}, id=f"{claimed[-1].entry[0] + 1000}-0")
        return claimed

    monkeypatch.setattr(relay, "_claim", claim_then_foreign_write.__get__(relay))
    relay.relay_once()
    assert outbox.backlog(engine).count == 2  # overtaken: waiting with no entry id
    outbox.Relay(engine, client).drain()
    assert [c.alarm_id for c in stream(client)] == [99, 1, 2]
    assert outbox.backlog(engine).count == 0


def test_redis_down_keeps_every_change_and_the_backlog_says_so(engine, redis_url):
    with FaultProxy("127.0.0.1", 6379) as proxy:
        url = redis_url.replace(":6379", f":{proxy.port}")
        client = connect_url(url, socket_timeout=1)
        relay = outbox.Relay(engine, client)
        write(engine, [change(1)])
        relay.drain()
        proxy.cut()
        write(engine, [change(2), change(3)])
        with pytest.raises(redis_lib.RedisError):
            relay.drain()
        waiting = outbox.backlog(engine)
        assert waiting.count == 2 and waiting.oldest_seconds >= 0
        with pytest.raises(redis_lib.RedisError):  # the link fails it at once, touching nothing
            relay.drain()
        proxy.heal()
        deadline = time.monotonic() + 15
        while outbox.backlog(engine).count and time.monotonic() < deadline:
            try:
                relay.drain()
            except redis_lib.RedisError:
                time.sleep(0.2)
        assert [c.alarm_id for c in stream(redis_lib.Redis.from_url(redis_url))] == [1, 2, 3]


def test_published_rows_are_pruned_after_a_while(engine):
    client = fakeredis.FakeRedis()
    write(engine, [change(1), change(2)])
    outbox.Relay(engine, client, clock=lambda: AT).drain()
    write(engine, [change(3)])  # not yet published: never pruned
    assert outbox.prune(engine, AT) == 0
    assert outbox.prune(engine, AT + outbox.KEEP) == 2
    assert outbox_ids(engine) == [3]


# --- several relays and writers at once, in processes of their own ----------------------------------


def _relay_process(db_url: str, redis_url: str, ready, done, crash: bool) -> None:
    """A relay whose lease never holds (every relay sends whenever it likes); with `crash`,
    it dies (kill -9 style) right after its first send, before marking anything."""
    outbox.LEASE = timedelta(0)
    engine = make_engine(db_url)
    relay = outbox.Relay(engine, connect_url(redis_url))
    if crash:

        def die(*_):
            os._exit(17)

        relay._mark = die
    rng = random.Random(os.getpid())
    ready.release()
    while not done.is_set():
        relay.drain(limit=rng.choice([1, 7, 50]))
        time.sleep(rng.random() * 0.01)
    relay.drain()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_relays_in_several_processes_put_each_change_on_the_stream_once_in_order(backend, request, redis_url):
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    engine = make_engine(db_url)
    upgrade(engine)
    context = multiprocessing.get_context("fork")  # each builds its own engine and client after the fork
    ready, done = context.Semaphore(0), context.Event()
    relays = [context.Process(target=_relay_process, args=(db_url, redis_url, ready, done, n == 0)) for n in range(3)]
    for process in relays:
        process.start()
    for _ in relays:
        assert ready.acquire(timeout=60)
    written: dict[int, list[int]] = {}
    until = time.monotonic() + 4

    def writer(alarm_id: int) -> None:  # each alarm's changes are written in order, a few per transaction
        rng = random.Random(alarm_id)
        n = 0
        while time.monotonic() < until:
            batch = [change(alarm_id, n=n + i) for i in range(rng.randint(1, 4))]
            write(engine, batch)
            n += len(batch)
            time.sleep(rng.random() * 0.01)
        written[alarm_id] = list(range(n))

    writers = [threading.Thread(target=writer, args=(a,)) for a in range(1, 5)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for process in relays:
        process.join(30)
    assert relays[0].exitcode == 17 and [p.exitcode for p in relays[1:]] == [0, 0]
    outbox.Relay(engine, connect_url(redis_url)).drain()  # what the crashed one may have left, were it last
    on_stream = stream(redis_lib.Redis.from_url(redis_url))
    ids = [c.change_id for c in on_stream]
    assert len(ids) == len(set(ids)) == sum(len(n) for n in written.values()) > 100  # each change exactly once
    assert sorted(ids) == outbox_ids(engine) == outbox_ids(engine, published=True)
    for alarm_id, numbers in written.items():  # and each alarm's changes in the order they were made
        assert [int(c.subject) for c in on_stream if c.alarm_id == alarm_id] == numbers
    engine.dispose()


@pytest.mark.slow
def test_a_change_committed_after_a_later_one_is_still_published(pg_url):
    """Outbox ids are handed out before commit: id 1 may commit after id 2 was published."""
    engine = make_engine(pg_url)
    upgrade(engine)
    client = fakeredis.FakeRedis()
    relay = outbox.Relay(engine, client)
    with engine.connect() as slow:
        slow.begin()
        outbox.write(slow, [change(1)])  # takes id 1, not committed yet
        write(engine, [change(2)])
        relay.drain()
        slow.commit()
    relay.drain()
    assert [c.alarm_id for c in stream(client)] == [2, 1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(alarm_outbox.c.published_at.is_(None))).scalar() == 0
    engine.dispose()


def test_a_database_made_without_the_migrations_gets_its_relay_row(engine):
    with engine.begin() as conn:
        conn.execute(alarm_outbox_relay.delete())
    write(engine, [change(1)])
    client = fakeredis.FakeRedis()
    outbox.Relay(engine, client).drain()
    outbox.Relay(engine, client).drain()
    assert len(stream(client)) == 1


def test_a_pass_that_finds_nothing_left_gives_the_lease_back(engine):
    client = fakeredis.FakeRedis()
    write(engine, [change(1)])
    outbox.Relay(engine, client).drain()
    assert outbox.Relay(engine, client).drain(look_first=False) == 0  # nudged, but another relay was quicker
    with engine.connect() as conn:
        assert conn.execute(select(alarm_outbox_relay.c.holder)).scalar() is None


def test_a_message_of_the_release_before_with_its_v_field_still_reads(redis_url):
    """The version field is `version` on every Redis message now; the alarm stream said `v`
    until this release, and an entry written then is read as before (for one release)."""
    client = redis_lib.Redis.from_url(redis_url)
    new = change(2)
    old_body = new.model_dump(mode="json", exclude={"change_id", "version"}) | {"alarm_id": 1, "v": 1}
    client.xadd(STREAM, {"json": json.dumps(old_body), "change_id": "1"})
    client.xadd(STREAM, {"json": new.body(), "change_id": "2"})
    read = stream(client)
    assert [(c.alarm_id, c.version, c.change_id) for c in read] == [(1, 1, 1), (2, 1, 2)]
    assert '"version":1' in new.body() and '"v":' not in new.body()
