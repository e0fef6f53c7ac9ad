"""The notifier (``supervise notify``): follows the alarm stream, groups, sends.

Each round at an instant `now` (:meth:`Notifier.run_once`):

1. read the alarm stream from the stored position and take the changes into their groups,
   moving the position in the same transaction (:func:`app.notify.groups.take`);
2. let every group whose time has come speak: queue its messages (:func:`app.notify.groups.flush`);
3. claim due messages and send them, each receiver in its own thread, so a receiver that
   hangs or fails delays only its own messages; failures retry with back-off, up to
   ``MAX_ATTEMPTS``, then stay ``failed`` (counted on /healthz and in metrics).

Time is an input: `run_once(now)`; `run(clock, stop)` loops on a clock.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

import redis as redis_lib
from sqlalchemy import Engine

from app.base import outage
from app.base.alarm_stream import read_after, snapshot_position
from app.notify import groups, outbox
from app.notify.places import CenterTree
from app.notify.receivers import ROBOT_PER_MINUTE, RateLimit, Sender
from app.sms.gateway import GatewayError, PermanentFailure
from app.sms.sender import backoff
from rules.calendar import WorkCalendar
from rules.routing import Routes

log = logging.getLogger("notify")

MAX_ATTEMPTS = 8
RETRY_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
LEASE = timedelta(seconds=60)  # a claim older than this was left by a notifier that died
BATCH = 50  # claimed at once: at a second an answer, sent well within the lease
RATE_LIMITED = ("wecom", "dingtalk")


@dataclass
class Round:
    taken: int = 0
    flushed: groups.Flushed = field(default_factory=groups.Flushed)
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0  # held back by a receiver's rate limit

    def __str__(self) -> str:
        f = self.flushed
        return (
            f"{self.taken} changes taken, {f.messages} messages from {f.groups} groups ({f.held} held, "
            f"{f.escalations} escalations), {self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
            f"{self.deferred} rate-limited"
        )


class Notifier:
    def __init__(
        self,
        engine: Engine,
        redis,
        routes: Routes,
        tree: CenterTree,
        calendar_of: Callable[[str | None], WorkCalendar],
        zone: tzinfo,
        sender: Sender,
    ):
        self.engine = engine
        self.redis = redis
        self.context = groups.Context(routes, tree, calendar_of, zone)
        self.sender = sender
        self.limits = RateLimit(ROBOT_PER_MINUTE)
        self._limit_lock = threading.Lock()

    # --- the loop ----------------------------------------------------------------------------

    def run(self, clock: Callable[[], datetime], stop: threading.Event, block_ms: int = 1000) -> None:
        threading.current_thread().name = "notify"
        while not stop.is_set():
            try:
                result = self.run_once(clock(), block_ms=block_ms)
                if result.taken or result.flushed.messages or result.sent or result.failed:
                    log.info("notify round: %s", result)
            except redis_lib.RedisError as exc:  # the Redis link logs the outage once
                log.debug("cannot read the alarm stream: %s", exc)
                stop.wait(1.0)
            except Exception as error:
                if not outage.transient(error):
                    log.exception("notify round failed; trying again")
                stop.wait(1.0)

    def run_once(self, now: datetime, block_ms: int | None = None) -> Round:
        result = Round()
        result.taken = self.follow(now, block_ms)
        result.flushed = groups.flush(self.engine, self.context, now)
        self.send_due(now, result)
        return result

    def follow(self, now: datetime, block_ms: int | None = None) -> int:
        """Take every change on the stream after the stored position into groups."""
        before = groups.position(self.engine) or groups.start_at(self.engine, snapshot_position(self.redis), now)
        taken = 0
        while True:
            after, changes = read_after(self.redis, before, block_ms=block_ms)
            if after == before:
                return taken
            if groups.take(self.engine, changes, self.context.routes, self.context.tree, before, after, now):
                taken += len(changes)
            before = groups.position(self.engine)
            block_ms = None  # wait only for the first batch

    # --- sending -------------------------------------------------------------------------------

    def send_due(self, now: datetime, result: Round) -> None:
        while claimed := outbox.claim(self.engine, now, BATCH, LEASE):
            by_receiver: dict[str, list[outbox.Claimed]] = defaultdict(list)
            for message in claimed:
                by_receiver[message.receiver].append(message)
            with ThreadPoolExecutor(max_workers=min(8, len(by_receiver)), thread_name_prefix="notify.send") as pool:
                for future in [pool.submit(self._send_all, batch, now) for batch in by_receiver.values()]:
                    sent, retrying, failed, deferred = future.result()
                    result.sent += sent
                    result.retrying += retrying
                    result.failed += failed
                    result.deferred += deferred

    def _send_all(self, batch: list[outbox.Claimed], now: datetime) -> tuple[int, int, int, int]:
        sent = retrying = failed = deferred = 0
        receiver = self.context.routes.receivers.get(batch[0].receiver)
        for i, message in enumerate(batch):
            if receiver is None:
                outbox.mark_failed(self.engine, message, f"no receiver named {message.receiver!r} in the routes", now)
                failed += 1
                continue
            if receiver.type in RATE_LIMITED:
                with self._limit_lock:
                    wait = self.limits.take(receiver.name, now.timestamp())
                if wait:
                    outbox.retry_later(
                        self.engine, message, "rate limit", now + timedelta(seconds=wait), now, count=False
                    )
                    deferred += 1
                    continue
            try:
                answer = self.sender.send(receiver, message.id, message.target, message.text, now)
            except GatewayError as exc:
                if self._failed(message, exc, now):
                    failed += 1
                else:
                    retrying += 1
                    # The receiver is failing: the rest of its batch waits for the same retry, unsent.
                    for rest in batch[i + 1 :]:
                        outbox.retry_later(
                            self.engine,
                            rest,
                            "receiver failing",
                            now + timedelta(seconds=RETRY_SECONDS),
                            now,
                            count=False,
                        )
                        deferred += 1
                    break
                continue
            outbox.mark_sent(self.engine, message, answer, now)
            sent += 1
        return sent, retrying, failed, deferred

    def _failed(self, message: outbox.Claimed, exc: GatewayError, now: datetime) -> bool:
        """Mark the failure; True if the message failed for good."""
        error = str(exc) or type(exc).__name__
        if isinstance(exc, PermanentFailure) or message.attempts >= MAX_ATTEMPTS:
            outbox.mark_failed(self.engine, message, error, now)
            log.error(
                "notification %d via %s failed for good after %d attempt(s): %s",
                message.id,
                message.receiver,
                message.attempts,
                error,
            )
            return True
        wait = backoff(message.attempts, message.id, RETRY_SECONDS, RETRY_MAX_SECONDS)
        if exc.retry_after is not None:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        outbox.retry_later(self.engine, message, error, now + wait, now)
        log.warning(
            "notification %d via %s: attempt %d failed (%s); next try in %.0f s",
            message.id,
            message.receiver,
            message.attempts,
            error,
            wait.total_seconds(),
        )
        return False
