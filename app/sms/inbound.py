"""Replies from applicants: validated, matched to the completion SMS they answer,
read as a score, and stored — each provider message exactly once.

Decisions (where the contract is silent; shown to officers as the reply's outcome):

* **Which message a reply answers**: the newest completion SMS *sent* to that
  number before the reply arrived (10 minutes of clock skew allowed). Replies
  carry no reference, and an applicant answers the message they just received.
* ``rated`` — readable as 0–100 and the first score for that case: it becomes
  the case's SMS rating (``ratings`` source ``sms``, rated at the reply's
  ``received_at``), judged for ``low_satisfaction`` by the next ingest cycle.
* ``already_rated`` — several replies to one message: the **first readable score
  counts**; later ones are kept for the record, never counted. A score must not
  be changed after a warning fired on it, and "first answer" is what
  telephone surveys (12345) count too. The database enforces one SMS rating per case.
* ``asked_for_number`` — unreadable: the reply is kept and ONE polite answer
  asking for a number is queued; ``unreadable`` — unreadable again (or after a
  score): kept, nothing more is sent. An unreadable reply is never a score.
* ``late`` — more than ``SUPERVISE_SMS_REPLY_DAYS`` (7) days after the completion
  SMS: kept, not counted, no answer: the survey is closed, and a score that
  late says little about the service it would be pinned on.
* ``unknown_number`` — no completion SMS was ever sent to that number: kept for
  officers to read, not counted, and nothing is sent back (it may be a wrong
  number or spam; the system only writes to applicants it served).

Idempotent on ``message_id``: the same message again changes nothing and gets
the first answer; the same id with a different phone or text is a conflict.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Connection, Engine, select, update

from app.base.database import insert_for
from app.base.settings import SmsSettings
from app.base.tables import cases, ratings, sms_inbox, sms_outbox
from app.sms.outbox import COMPLETION, SENT, enqueue_ask_score
from app.sms.parse import Reading, read_score
from app.sms.phones import mask_phone, normalize_phone
from ingest.store import JUDGE_NOW
from rules.ratings import LOW_SCORE

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=10)
# A provider redelivers after an outage of days, not years; older is a wrong clock or a forgery
# (and an instant of year 1 overflows on its way to UTC).
MAX_AGE = timedelta(days=366)
MAX_TEXT = 2000
MAX_ID = 200

OUTCOMES: dict[str, str] = {
    "rated": "计入满意度评分",
    "already_rated": "该办件已有评分，本条不计入",
    "asked_for_number": "无法识别为0–100分，已回复请其发送数字",
    "unreadable": "无法识别为0–100分，已提示过，不再回复",
    "late": "超过回复期限，不计入",
    "unknown_number": "未向该号码发送过办结短信，不计入",
}


@dataclass(frozen=True, slots=True)
class InboundSms:
    message_id: str
    phone: str  # normalised
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Handled:
    message_id: str
    outcome: str
    score: int | None
    case_no: str | None
    rating_id: int | None
    duplicate: bool = False


class Invalid(ValueError):
    """The request body is not an inbound SMS; `problems` maps each bad field to why."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


class Conflict(ValueError):
    """The message_id was already received with a different phone or text."""


def validate(body: object, zone: tzinfo, now: datetime) -> InboundSms:
    """`{message_id, phone, text, received_at}` as an InboundSms, or Invalid saying what is wrong."""
    if not isinstance(body, dict):
        raise Invalid({"body": "must be a JSON object"})
    problems: dict[str, str] = {}
    message_id = body.get("message_id")
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        message_id = str(message_id)
    if not isinstance(message_id, str) or not message_id.strip():
        problems["message_id"] = "required: a non-empty string"
    elif len(message_id) > MAX_ID:
        problems["message_id"] = f"longer than {MAX_ID} characters"
    phone = normalize_phone(body.get("phone"))
    if phone is None:
        problems["phone"] = "required: a phone number"
    text = body.get("text")
    if not isinstance(text, str):
        problems["text"] = "required: a string (may be empty)"
    elif len(text) > MAX_TEXT:
        problems["text"] = f"longer than {MAX_TEXT} characters"
    received_at = _instant(body.get("received_at"), zone)
    if received_at is None:
        problems["received_at"] = "required: an ISO 8601 instant, e.g. 2026-11-27T10:15:00+08:00"
    elif received_at > now + CLOCK_SKEW:
        problems["received_at"] = "lies in the future"
    elif received_at < now - MAX_AGE:
        problems["received_at"] = f"lies more than {MAX_AGE.days} days in the past"
    if problems:
        raise Invalid(problems)
    return InboundSms(message_id.strip(), phone, text, received_at)


def _instant(value: object, zone: tzinfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=zone)


def receive(engine: Engine, message: InboundSms, settings: SmsSettings, now: datetime) -> Handled:
    """Store and act on one reply, in one transaction; a repeat returns the first result."""
    with engine.begin() as conn:
        inbox_id = _claim_message_id(conn, message, now)
        if inbox_id is None:
            return _earlier(conn, message)
        reading = read_score(message.text)
        handled = _act(conn, message, reading, settings, now)
        conn.execute(
            update(sms_inbox)
            .where(sms_inbox.c.id == inbox_id)
            .values(
                case_no=handled.case_no,
                outbox_id=_outbox_id(conn, handled.case_no),
                score=handled.score,
                problem=reading.problem,
                outcome=handled.outcome,
                rating_id=handled.rating_id,
            )
        )
    log.info("sms reply %s from %s: %s", message.message_id, mask_phone(message.phone), handled.outcome)
    return handled


def _claim_message_id(conn: Connection, message: InboundSms, now: datetime) -> int | None:
    insert = insert_for(conn, sms_inbox)
    row = {
        "message_id": message.message_id,
        "phone": message.phone,
        "text": message.text,
        "received_at": message.received_at,
        "stored_at": now,
        "outcome": "pending",
    }
    return conn.execute(insert.values(row).on_conflict_do_nothing().returning(sms_inbox.c.id)).scalar()


def _earlier(conn: Connection, message: InboundSms) -> Handled:
    row = conn.execute(select(sms_inbox).where(sms_inbox.c.message_id == message.message_id)).mappings().one()
    if (row["phone"], row["text"]) != (message.phone, message.text):
        raise Conflict(f"message_id {message.message_id!r} was already received with a different phone or text")
    return Handled(row["message_id"], row["outcome"], row["score"], row["case_no"], row["rating_id"], duplicate=True)


def _act(conn: Connection, message: InboundSms, reading: Reading, settings: SmsSettings, now: datetime) -> Handled:
    answered = conn.execute(
        select(sms_outbox.c.case_no, sms_outbox.c.sent_at)
        .where(
            sms_outbox.c.purpose == COMPLETION,
            sms_outbox.c.phone == message.phone,
            sms_outbox.c.state == SENT,
            sms_outbox.c.sent_at <= message.received_at + CLOCK_SKEW,
        )
        .order_by(sms_outbox.c.sent_at.desc(), sms_outbox.c.id.desc())
        .limit(1)
    ).first()

    def handled(outcome: str, case_no: str | None = None, rating_id: int | None = None) -> Handled:
        return Handled(message.message_id, outcome, reading.score, case_no, rating_id)

    if answered is None:
        return handled("unknown_number")
    case_no, sent_at = answered
    if message.received_at - sent_at > timedelta(days=settings.reply_days):
        return handled("late", case_no)
    if reading.readable:
        rating_id = _rate(conn, case_no, reading.score, message.received_at)
        return handled("rated", case_no, rating_id) if rating_id else handled("already_rated", case_no)
    rated = conn.execute(select(ratings.c.id).where(ratings.c.source == "sms", ratings.c.source_id == case_no)).first()
    if rated is None and enqueue_ask_score(conn, case_no, message.phone, message.message_id, settings.signature, now):
        return handled("asked_for_number", case_no)
    return handled("unreadable", case_no)


def _rate(conn: Connection, case_no: str, score: int, rated_at: datetime) -> int | None:
    """The case's SMS rating, placed where the case was served; None if it has one already."""
    place = conn.execute(
        select(cases.c.center_id, cases.c.dept_id, cases.c.window_id, cases.c.staff_id).where(
            cases.c.case_no == case_no
        )
    ).first()
    center_id, dept_id, window_id, staff_id = place or (None, None, None, None)
    insert = insert_for(conn, ratings)
    row = {
        "source": "sms",
        "source_id": case_no,
        "case_no": case_no,
        "center_id": center_id,
        "dept_id": dept_id,
        "window_id": window_id,
        "staff_id": staff_id,
        "score": score,
        "rated_at": rated_at,
        # A low score is judged by the ingest's next cycle (ingest.ratings), like an on-site one.
        "next_change": JUDGE_NOW if score < LOW_SCORE else None,
    }
    return conn.execute(insert.values(row).on_conflict_do_nothing().returning(ratings.c.id)).scalar()


def _outbox_id(conn: Connection, case_no: str | None) -> int | None:
    if case_no is None:
        return None
    return conn.execute(
        select(sms_outbox.c.id).where(sms_outbox.c.case_no == case_no, sms_outbox.c.purpose == COMPLETION)
    ).scalar()


def listing(engine: Engine, case_no: str | None = None, limit: int | None = None) -> Iterator[dict]:
    """Inbox rows, newest first, `limit` of them (None: all), read as they are printed."""
    query = select(sms_inbox).order_by(sms_inbox.c.received_at.desc(), sms_inbox.c.id.desc()).limit(limit)
    if case_no:
        query = query.where(sms_inbox.c.case_no == case_no)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(query).mappings():
            yield dict(row)
