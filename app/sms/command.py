"""`supervise sms …` (outbox, inbox, send, receive) and `supervise rating …` (follow-up, list).

JSON output is one object per line. Phone numbers are always masked
(``138****1234``); the full number lives only in the database and the gateway.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta

import click
from pydantic import ValidationError
from sqlalchemy import select

from app.base.json_lines import emit, emit_listing, fetch_size, iso, limit_option
from app.base.settings import Settings

log = logging.getLogger("sms")


def _settings():
    from app.base.settings import load, load_sms

    try:
        return load(), load_sms()
    except ValidationError as exc:
        problems = "; ".join(
            (f"SUPERVISE_SMS_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise click.UsageError(problems) from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _now(value: str | None, settings: Settings) -> datetime:
    from ingest.command import parse_now

    return parse_now(value, settings) or datetime.now(UTC)


def _iso(value, settings: Settings):
    return iso(value, settings.zone)


# --- supervise sms ------------------------------------------------------------------------------


@click.group("sms")
def sms_command() -> None:
    """Completion SMS and satisfaction replies: outbox, inbox, sender."""


@sms_command.command("outbox")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option(
    "--state", type=click.Choice(["queued", "sending", "sent", "failed"]), help="Only messages in this state."
)
@click.option("--case", "case_no", help="Only this case's messages.")
@click.option("--now", "now_text", metavar="ISO8601", help="The instant 'next_attempt_at' is computed from.")
@limit_option("messages")
def sms_outbox(as_json: bool, state: str | None, case_no: str | None, now_text: str | None, limit: int) -> None:
    """List the SMS outbox, newest first (phone numbers masked)."""
    from app.base.database import open_database
    from app.sms import outbox
    from app.sms.hours import SendingHours
    from app.sms.phones import mask_phone

    settings, sms = _settings()
    now = _now(now_text, settings)
    hours = SendingHours(sms.send_from, sms.send_until, settings.zone)
    lease = timedelta(seconds=sms.lease_seconds)

    def record(row: dict) -> dict:
        next_attempt = None
        if row["state"] == outbox.QUEUED:
            next_attempt = hours.next_open(max(row["not_before"], now))
        elif row["state"] == outbox.SENDING and row["claimed_at"] is not None:
            next_attempt = row["claimed_at"] + lease  # taken up again if its sender does not mark it by then
        return {
            "id": row["id"],
            "message_id": f"sms-{row['id']}",
            "purpose": row["purpose"],
            "case_no": row["case_no"],
            "phone": mask_phone(row["phone"]),
            "state": row["state"],
            "attempts": row["attempts"],
            "created_at": _iso(row["created_at"], settings),
            "next_attempt_at": _iso(next_attempt, settings),
            "sent_at": _iso(row["sent_at"], settings),
            "gateway": row["gateway"],
            "gateway_ref": row["gateway_ref"],
            "last_error": row["last_error"],
            "text": row["text"],
        }

    rows = outbox.listing(open_database(settings), state, case_no, fetch_size(limit))
    emit_listing(map(record, rows), limit, "messages")


@sms_command.command("inbox")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option("--case", "case_no", help="Only replies about this case.")
@limit_option("replies")
def sms_inbox(as_json: bool, case_no: str | None, limit: int) -> None:
    """List applicants' replies, newest first: the score read (null when unreadable) and what was done."""
    from app.base.database import open_database
    from app.sms import inbound
    from app.sms.phones import mask_phone, mask_phones_in

    settings, _sms = _settings()
    rows = inbound.listing(open_database(settings), case_no, fetch_size(limit))
    emit_listing(
        (
            {
                "message_id": row["message_id"],
                "phone": mask_phone(row["phone"]),
                "case_no": row["case_no"],
                "received_at": _iso(row["received_at"], settings),
                "text": mask_phones_in(row["text"]),
                "score": row["score"],
                "problem": row["problem"],
                "outcome": row["outcome"],
                "outcome_zh": inbound.OUTCOMES.get(row["outcome"]),
                "rating_id": row["rating_id"],
            }
            for row in rows
        ),
        limit,
        "replies",
    )


@sms_command.command("send")
@click.option("--once", is_flag=True, help="One round: queue new completion notices, send what is due, exit.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="The instant that is 'now' (replay); local time if it has no offset. Without --once the "
    "clock starts there and runs on.",
)
def sms_send(once: bool, now_text: str | None) -> None:
    """Run the SMS sender: completion notices and reminders through the configured gateway.

    Only within sending hours (SUPERVISE_SMS_SEND_FROM–SEND_UNTIL, local time);
    messages wait for the window to open. Never sends one message twice.
    """
    from app.sms.runner import build

    settings, sms = _settings()
    sender = build(settings, sms)
    start = _now(now_text, settings)
    if once:
        result = sender.run_once(start)
        click.echo(f"sms: {result} (gateway {sender.gateway.name}, now = {start.isoformat()})", err=True)
        return
    from ingest.runner import wall_clock

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"sms: sending through the {sender.gateway.name} gateway; Ctrl-C stops", err=True)
    sender.run(wall_clock(start if now_text else None), stop)


@sms_command.command("receive")
@click.option("--message-id", required=True, help="The provider's message id (a repeat changes nothing).")
@click.option("--phone", required=True, help="The sender's number.")
@click.option("--text", "text", required=True, help="What the applicant wrote.")
@click.option("--received-at", metavar="ISO8601", help="When it arrived (default: now).")
@click.option("--now", "now_text", metavar="ISO8601", help="The instant that is 'now' (replay).")
def sms_receive(message_id: str, phone: str, text: str, received_at: str | None, now_text: str | None) -> None:
    """Take in one reply by hand, exactly as POST /api/sms/inbound would (demos, a provider outage)."""
    from app.base.database import open_database
    from app.sms import inbound

    settings, sms = _settings()
    now = _now(now_text, settings)
    body = {"message_id": message_id, "phone": phone, "text": text, "received_at": received_at or now.isoformat()}
    try:
        handled = inbound.receive(open_database(settings), inbound.validate(body, settings.zone, now), sms, now)
    except (inbound.Invalid, inbound.Conflict) as exc:
        raise click.ClickException(str(exc)) from exc
    emit(
        {
            "message_id": handled.message_id,
            "outcome": handled.outcome,
            "score": handled.score,
            "case_no": handled.case_no,
            "rating_id": handled.rating_id,
            "duplicate": handled.duplicate,
        }
    )


# --- supervise rating ---------------------------------------------------------------------------


@click.group("rating")
def rating_command() -> None:
    """Satisfaction ratings: list them, record the follow-up (整改) of a low one."""


@rating_command.command("follow-up")
@click.argument("rating_id", type=int)
@click.option("--by", required=True, help="The officer's name, recorded in the audit trail.")
@click.option("--note", required=True, help="What was done (整改措施), recorded with it.")
@click.option("--now", "now_text", metavar="ISO8601", help="The instant of the follow-up (replay).")
def rating_follow_up(rating_id: int, by: str, note: str, now_text: str | None) -> None:
    """Record that low rating RATING_ID was followed up (整改). Its alarms close at the next ingest cycle."""
    from app.base import outbox
    from app.base.database import open_database
    from app.base.messaging import connect
    from ingest.ratings import FollowUpRefused, follow_up

    settings, _sms = _settings()
    engine = open_database(settings)
    try:
        row = follow_up(engine, rating_id, by, note, _now(now_text, settings))
    except FollowUpRefused as exc:
        raise click.ClickException(str(exc)) from exc
    emit(_rating_json(row, settings))
    click.echo("follow-up recorded; the rating's alarms close at the next ingest cycle", err=True)
    if not outbox.publish_now(engine, connect(settings), "rating.relay"):
        click.echo(outbox.WAITS, err=True)


@rating_command.command("list")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option("--low", is_flag=True, help="Only ratings below 60.")
@click.option("--open", "open_only", is_flag=True, help="Only low ratings not followed up yet.")
@click.option("--case", "case_no", help="Only this case's ratings.")
@limit_option("ratings")
def rating_list(as_json: bool, low: bool, open_only: bool, case_no: str | None, limit: int) -> None:
    """List ratings (on-site and SMS), oldest first, with the follow-up deadline of low ones."""
    from app.base.calendars import CalendarBook
    from app.base.database import open_database
    from app.base.tables import ratings
    from ingest.ratings import rating_of
    from rules.ratings import LOW_SCORE, rectify_by

    settings, _sms = _settings()
    query = select(ratings).order_by(ratings.c.rated_at, ratings.c.id).limit(fetch_size(limit))
    if low or open_only:
        query = query.where(ratings.c.score < LOW_SCORE)
    if open_only:
        query = query.where(ratings.c.followed_up_at.is_(None))
    if case_no:
        query = query.where(ratings.c.case_no == case_no)
    calendars = CalendarBook.from_dir(settings.calendar_dir)

    def record(row) -> dict:
        rating = rating_of(row)
        due = rectify_by(rating, calendars.for_center(rating.center_id), settings.zone)[0] if rating.low else None
        return _rating_json(row, settings) | {"follow_up_due": _iso(due, settings)}

    with open_database(settings).connect() as conn:
        emit_listing(map(record, conn.execution_options(yield_per=1000).execute(query).mappings()), limit, "ratings")


def _rating_json(row, settings: Settings) -> dict:
    return {
        "id": row["id"],
        "source": row["source"],
        "source_id": row["source_id"],
        "case_no": row["case_no"],
        "center_id": row["center_id"],
        "dept_id": row["dept_id"],
        "window_id": row["window_id"],
        "staff_id": row["staff_id"],
        "score": row["score"],
        "rated_at": _iso(row["rated_at"], settings),
        "subject": f"{row['source']}:{row['id']}",
        "followed_up_at": _iso(row["followed_up_at"], settings),
        "follow_up_by": row["follow_up_by"],
        "follow_up_note": row["follow_up_note"],
    }
