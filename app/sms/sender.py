"""The SMS sender: queues completion notices and hands due messages to the gateway.

One round (:meth:`Sender.run_once`) at an instant `now`:

1. queue a completion SMS for each newly completed case with a phone;
2. if sending hours are open, claim due messages, a batch at a time, and send each one;
3. mark it sent; or, on a temporary failure, put it back with an exponential
   back-off (deterministic jitter per message, or the provider's Retry-After);
   on a permanent failure or after the last attempt, mark it failed.

Time is an input: `run_once(now)`, and `run(clock, stop)` loops on a clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Engine

from app.base import outage
from app.base.settings import SmsSettings
from app.sms import outbox
from app.sms.gateway import Gateway, GatewayError, Outgoing, PermanentFailure, outgoing_id
from app.sms.hours import SendingHours
from app.sms.phones import mask_phone

log = logging.getLogger("sms.sender")


@dataclass
class Round:
    queued: int = 0
    sent: int = 0
    already_sent: int = 0  # the gateway had the id: an earlier attempt got through
    retrying: int = 0
    failed: int = 0
    held: bool = False  # outside sending hours

    def __str__(self) -> str:
        held = " (outside sending hours: held)" if self.held else ""
        return (
            f"{self.queued} queued, {self.sent} sent, {self.already_sent} found already sent, "
            f"{self.retrying} to retry, {self.failed} failed{held}"
        )


def backoff(attempts: int, outbox_id: int, base: float, ceiling: float) -> timedelta:
    """Wait after the `attempts`-th failure: base·2^(attempts−1), at most `ceiling`, plus up to 25 %
    jitter fixed per message, so a burst of failures does not come back as one burst."""
    delay = min(base * 2 ** min(attempts - 1, 30), ceiling)
    jitter = ((outbox_id * 2654435761) % 1000) / 1000 * 0.25
    return timedelta(seconds=delay * (1 + jitter))


class Sender:
    def __init__(
        self,
        engine: Engine,
        gateway: Gateway,
        settings: SmsSettings,
        zone: tzinfo,
        names: outbox.PlaceNames = outbox._no_names,
    ):
        self.engine = engine
        self.gateway = gateway
        self.settings = settings
        self.hours = SendingHours(settings.send_from, settings.send_until, zone)
        self.names = names

    def run(self, clock: Callable[[], datetime], stop: threading.Event) -> None:
        """Send until `stop` is set; a failing round is logged and tried again next poll.

        During a database outage (app.base.outage logs its start and end) rounds are tried
        again every poll without a line each. A message the gateway took but the
        outage kept from being marked sent goes out again under the same id when its
        lease ends, and the gateway drops the repeat."""
        threading.current_thread().name = "sms.sender"
        while True:
            try:
                result = self.run_once(clock())
                if result.queued or result.sent or result.failed or result.retrying:
                    log.info("sms round: %s", result)
            except Exception as error:
                if not outage.transient(error):  # an outage is reported by the engine that met it
                    log.exception("sms round failed; trying again in %.0f s", self.settings.poll_seconds)
            if stop.wait(self.settings.poll_seconds):
                return

    def run_once(self, now: datetime) -> Round:
        result = Round()
        result.queued = outbox.enqueue_completions(
            self.engine, now, self.settings.signature, timedelta(hours=self.settings.max_age_hours), self.names
        )
        if not self.hours.is_open(now):
            result.held = True
            return result
        lease = timedelta(seconds=self.settings.lease_seconds)
        # Batch after batch until nothing is due: a failed message is put back for later
        # than `now`, so the round always ends.
        while claimed := outbox.claim(self.engine, now, self.settings.batch_size, lease):
            for message in claimed:
                self._send(message, now, result)
        return result

    def _send(self, message: outbox.Claimed, now: datetime, result: Round) -> None:
        if message.uncertain:
            log.warning(
                "sms-%d was left mid-send by a sender that stopped; sending again under the same id "
                "(the gateway drops it if the first attempt got through)",
                message.id,
            )
        try:
            delivery = self.gateway.send(Outgoing(outgoing_id(message.id), message.phone, message.text), now)
        except GatewayError as exc:
            self._failed(message, exc, now, result)
            return
        except Exception as exc:
            log.exception("sms-%d: gateway %s raised", message.id, self.gateway.name)
            self._failed(message, GatewayError(f"{type(exc).__name__}: {exc}"), now, result)
            return
        outbox.mark_sent(self.engine, message, delivery.gateway, delivery.ref, delivery.sent_at or now, now)
        if delivery.duplicate:
            result.already_sent += 1
        else:
            result.sent += 1

    def _failed(self, message: outbox.Claimed, exc: GatewayError, now: datetime, result: Round) -> None:
        error = str(exc) or type(exc).__name__
        if isinstance(exc, PermanentFailure) or message.attempts >= self.settings.max_attempts:
            outbox.mark_failed(self.engine, message, error, now)
            result.failed += 1
            log.error(
                "sms-%d to %s failed for good after %d attempt(s): %s",
                message.id,
                mask_phone(message.phone),
                message.attempts,
                error,
            )
            return
        wait = backoff(message.attempts, message.id, self.settings.retry_seconds, self.settings.retry_max_seconds)
        if exc.retry_after is not None:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        outbox.retry_later(self.engine, message, error, now + wait, now)
        result.retrying += 1
        log.warning(
            "sms-%d to %s: attempt %d failed (%s); next try in %.0f s",
            message.id,
            mask_phone(message.phone),
            message.attempts,
            error,
            wait.total_seconds(),
        )
