"""The SMS outbox (``sms_outbox``): what is to be sent, and where each message stands.

A message's life, one row each::

    queued ──claim──▶ sending ──▶ sent
       ▲                 │
       └── retry later ──┤ (temporary failure, attempts left)
                         └──▶ failed (permanent failure, or attempts used up)

A claim sets a fresh ``claim_token``; only the holder of the token may mark the
row, so a sender that stalls past its lease cannot overwrite the work of the
one that took over. A row left in ``sending`` longer than the lease (its sender
died between handing the message to the gateway and marking it) is claimed
again and re-sent under the same id, which the gateway de-duplicates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, or_, select, update

from app.base.database import insert_for
from app.base.tables import cases, sms_outbox
from app.sms.phones import is_mobile, mask_phone, normalize_phone
from app.sms.texts import ask_score_text, completion_text

log = logging.getLogger(__name__)

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
COMPLETION, ASK_SCORE = "completion", "ask_score"
ENQUEUE_LIMIT = 1000

# (center_id, window_id) -> (center name, window label); either may be None
PlaceNames = Callable[[str | None, str | None], tuple[str | None, str | None]]


def _no_names(center_id, window_id):
    return None, None


def _insert(conn: Connection):
    return insert_for(conn, sms_outbox)


def _new_row(purpose: str, case_no: str, phone: str, text: str, now: datetime, reply_to: str | None = None) -> dict:
    # Every row has the same keys: an executemany takes its columns from the first row.
    row = {
        "purpose": purpose,
        "case_no": case_no,
        "phone": phone,
        "text": text,
        "state": QUEUED,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "updated_at": now,
        "reply_to": reply_to,
        "last_error": None,
    }
    if not is_mobile(phone):
        # Kept, so the case visibly got its one message, but never sent: an SMS cannot reach it.
        row |= {"state": FAILED, "last_error": f"{mask_phone(phone)} is not a mainland mobile number"}
    return row


# --- queueing ---------------------------------------------------------------------------------


def enqueue_completions(
    engine: Engine,
    now: datetime,
    signature: str,
    max_age: timedelta,
    names: PlaceNames = _no_names,
    limit: int = ENQUEUE_LIMIT,
) -> int:
    """Queue the completion SMS of every case completed in (now − max_age, now] that has a phone
    and no completion SMS yet. Returns how many were queued. Safe to run from several senders."""
    queued = 0
    while True:
        with engine.begin() as conn:
            found = conn.execute(
                select(cases.c.case_no, cases.c.applicant_phone, cases.c.center_id, cases.c.window_id)
                .outerjoin(
                    sms_outbox, and_(sms_outbox.c.case_no == cases.c.case_no, sms_outbox.c.purpose == COMPLETION)
                )
                .where(
                    cases.c.status == "completed",
                    cases.c.applicant_phone.is_not(None),
                    cases.c.applicant_phone != "",
                    cases.c.completed_at > now - max_age,
                    cases.c.completed_at <= now,
                    sms_outbox.c.id.is_(None),
                )
                .order_by(cases.c.completed_at)
                .limit(limit)
            ).all()
            rows = []
            for case_no, raw_phone, center_id, window_id in found:
                center_name, label = names(center_id, window_id)
                phone = normalize_phone(raw_phone) or raw_phone.strip()
                rows.append(
                    _new_row(COMPLETION, case_no, phone, completion_text(signature, case_no, center_name, label), now)
                )
            if rows:
                queued += len(
                    conn.execute(_insert(conn).on_conflict_do_nothing().returning(sms_outbox.c.id), rows).all()
                )
        if len(found) < limit:
            return queued


def enqueue_ask_score(conn: Connection, case_no: str, phone: str, reply_to: str, signature: str, now: datetime) -> bool:
    """Queue the one reminder asking for a number; False if this case already had it."""
    row = _new_row(ASK_SCORE, case_no, phone, ask_score_text(signature, case_no), now, reply_to)
    return bool(conn.execute(_insert(conn).on_conflict_do_nothing().returning(sms_outbox.c.id), [row]).all())


# --- the sender's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    purpose: str
    case_no: str
    phone: str
    text: str
    attempts: int  # including this one
    token: str
    uncertain: bool  # taken over from a sender that died mid-send


def claim(engine: Engine, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` messages due at `now` (queued, or stuck in sending past the lease)."""
    token = uuid.uuid4().hex
    due = or_(
        and_(sms_outbox.c.state == QUEUED, sms_outbox.c.not_before <= now),
        and_(sms_outbox.c.state == SENDING, sms_outbox.c.claimed_at <= now - lease),
    )
    with engine.begin() as conn:
        picked = conn.execute(
            select(sms_outbox.c.id, sms_outbox.c.state)
            .where(due)
            .order_by(sms_outbox.c.not_before, sms_outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not picked:
            return []
        stuck = {row.id for row in picked if row.state == SENDING}
        rows = conn.execute(
            update(sms_outbox)
            .where(sms_outbox.c.id.in_([row.id for row in picked]), due)
            .values(
                state=SENDING, claim_token=token, claimed_at=now, attempts=sms_outbox.c.attempts + 1, updated_at=now
            )
            .returning(
                sms_outbox.c.id,
                sms_outbox.c.purpose,
                sms_outbox.c.case_no,
                sms_outbox.c.phone,
                sms_outbox.c.text,
                sms_outbox.c.attempts,
            )
        ).all()
    return sorted(
        (Claimed(r.id, r.purpose, r.case_no, r.phone, r.text, r.attempts, token, r.id in stuck) for r in rows),
        key=lambda c: c.id,
    )


def _mark(engine: Engine, message: Claimed, **values) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(sms_outbox)
            .where(
                sms_outbox.c.id == message.id, sms_outbox.c.claim_token == message.token, sms_outbox.c.state == SENDING
            )
            .values(claim_token=None, **values)
        )
    if result.rowcount != 1:
        log.warning("sms-%d was taken over by another sender before it could be marked", message.id)
    return result.rowcount == 1


def mark_sent(
    engine: Engine, message: Claimed, gateway: str, ref: str | None, sent_at: datetime, now: datetime
) -> bool:
    return _mark(
        engine, message, state=SENT, sent_at=sent_at, gateway=gateway, gateway_ref=ref, last_error=None, updated_at=now
    )


def retry_later(engine: Engine, message: Claimed, error: str, not_before: datetime, now: datetime) -> bool:
    return _mark(engine, message, state=QUEUED, not_before=not_before, last_error=error[:1000], updated_at=now)


def mark_failed(engine: Engine, message: Claimed, error: str, now: datetime) -> bool:
    return _mark(engine, message, state=FAILED, last_error=error[:1000], updated_at=now)


# --- reading ----------------------------------------------------------------------------------


def listing(
    engine: Engine, state: str | None = None, case_no: str | None = None, limit: int | None = None
) -> Iterator[dict]:
    """Outbox rows, newest first, `limit` of them (None: all), read as they are printed."""
    query = select(sms_outbox).order_by(sms_outbox.c.id.desc()).limit(limit)
    if state:
        query = query.where(sms_outbox.c.state == state)
    if case_no:
        query = query.where(sms_outbox.c.case_no == case_no)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(query).mappings():
            yield dict(row)
