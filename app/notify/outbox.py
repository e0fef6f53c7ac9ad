"""The notification outbox (``notifications``): one row per message to one receiver target.

The same life as an SMS (app/sms/outbox.py)::

    queued ──claim──▶ sending ──▶ sent
       ▲                 │
       └── retry later ──┤ (temporary failure, attempts left; or the receiver's rate limit)
                         └──▶ failed (permanent failure, or attempts used up)

A claim sets a fresh ``claim_token``; only its holder marks the row. A row left in
``sending`` past the lease (its notifier died mid-send) is claimed again and sent under
the same id: the SMS gateway and the webhook de-duplicate on it; a robot or a mail
server cannot, so a crash in that instant may repeat one message, never lose it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, update

from app.base.tables import notifications

log = logging.getLogger("notify")

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    receiver: str
    channel: str
    target: str
    text: str
    attempts: int  # including this one
    token: str
    uncertain: bool  # taken over from a notifier that died mid-send


def claim(engine: Engine, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    token = uuid.uuid4().hex
    due = or_(
        and_(notifications.c.state == QUEUED, notifications.c.not_before <= now),
        and_(notifications.c.state == SENDING, notifications.c.claimed_at <= now - lease),
    )
    with engine.begin() as conn:
        picked = conn.execute(
            select(notifications.c.id, notifications.c.state)
            .where(due)
            .order_by(notifications.c.not_before, notifications.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not picked:
            return []
        stuck = {row.id for row in picked if row.state == SENDING}
        rows = conn.execute(
            update(notifications)
            .where(notifications.c.id.in_([row.id for row in picked]), due)
            .values(
                state=SENDING, claim_token=token, claimed_at=now, attempts=notifications.c.attempts + 1, updated_at=now
            )
            .returning(
                notifications.c.id,
                notifications.c.receiver,
                notifications.c.channel,
                notifications.c.target,
                notifications.c.text,
                notifications.c.attempts,
            )
        ).all()
    return sorted(
        (Claimed(r.id, r.receiver, r.channel, r.target, r.text, r.attempts, token, r.id in stuck) for r in rows),
        key=lambda c: c.id,
    )


def _mark(engine: Engine, message: Claimed, **values) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(notifications)
            .where(
                notifications.c.id == message.id,
                notifications.c.claim_token == message.token,
                notifications.c.state == SENDING,
            )
            .values(claim_token=None, **values)
        ).rowcount
    if done != 1:
        log.warning("notification %d was taken over by another notifier before it could be marked", message.id)
    return done == 1


def mark_sent(engine: Engine, message: Claimed, answer: str | None, now: datetime) -> bool:
    return _mark(
        engine, message, state=SENT, sent_at=now, answer=(answer or "")[:1000], last_error=None, updated_at=now
    )


def retry_later(engine: Engine, message: Claimed, error: str, not_before: datetime, now: datetime, count: bool = True):
    attempts = notifications.c.attempts if count else notifications.c.attempts - 1
    return _mark(
        engine, message, state=QUEUED, not_before=not_before, last_error=error[:1000], attempts=attempts, updated_at=now
    )


def mark_failed(engine: Engine, message: Claimed, error: str, now: datetime) -> bool:
    return _mark(engine, message, state=FAILED, last_error=error[:1000], updated_at=now)


def listing(engine: Engine, state: str | None = None, limit: int | None = None) -> Iterator[dict]:
    query = select(notifications).order_by(notifications.c.id.desc()).limit(limit)
    if state:
        query = query.where(notifications.c.state == state)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(query).mappings():
            yield dict(row)


def counts(engine: Engine) -> dict[str, int]:
    """Messages by state (failed ones are what /healthz and metrics show)."""
    with engine.connect() as conn:
        return dict(conn.execute(select(notifications.c.state, func.count()).group_by(notifications.c.state)).all())
