"""`supervise ingest`, `alarms`, `alarm`, `case`, `quality`, `escalate`: the command-line
contract of semantics.md, word for word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from sqlalchemy import select

from app.base.alarm_json import alarm_json
from app.base.database import open_database
from app.base.json_lines import emit, emit_listing, fetch_size, iso, limit_option
from app.base.settings import ConfigurationError, Settings, load
from app.base.tables import ACTING_ROLES, alarms, cases, quality_log, users
from ingest.actions import ActionRefused, act


def _settings() -> Settings:
    try:
        return load()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _iso(value, settings: Settings):
    return iso(value, settings.zone)


def parse_now(value: str | None, settings: Settings) -> datetime | None:
    """--now: an ISO 8601 instant; without an offset it is local time (SUPERVISE_TZ)."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 instant (e.g. 2026-10-09T00:00:00+08:00)", param_hint="--now"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=settings.zone)


@click.command("ingest")
@click.option("--once", is_flag=True, help="Take in every row not yet taken in, fire what is due, store, exit 0.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="The instant that is 'now' for everything (replay); local time if it has no offset.",
)
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    help="Exchange rows per transaction when caught up; a backlog is taken in transactions of up to 4 times as many.",
)
@click.option("--metrics-port", type=int, help="Serve Prometheus metrics on this port.")
@click.option(
    "--wait-for-lock",
    default=30.0,
    show_default=True,
    help="--once: seconds to wait while another ingest holds the lock.",
)
def ingest_command(
    once: bool, now_text: str | None, batch_size: int, metrics_port: int | None, wait_for_lock: float
) -> None:
    """Take in exchange rows and fire due alarms.

    Without --once it follows the exchange database until stopped (Ctrl-C).
    Several may run against one database: one is active, the others stand by
    and take over within seconds when it dies.
    """
    from ingest.runner import run_ingest

    settings = _settings()
    run_ingest(
        settings,
        once=once,
        now=parse_now(now_text, settings),
        batch_size=batch_size,
        metrics_port=metrics_port,
        wait_for_lock=wait_for_lock,
    )


@click.command("alarms")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option(
    "--state",
    type=click.Choice(["open", "all"]),
    default="open",
    show_default=True,
    help="open: every alarm not yet closed; all: history too.",
)
@click.option("--case", "case_no", help="Only this case's alarms.")
@limit_option("alarms")
def alarms_command(as_json: bool, state: str, case_no: str | None, limit: int) -> None:
    """List alarms, one JSON object per line."""
    settings = _settings()
    engine = open_database(settings)
    query = select(alarms).order_by(alarms.c.fired_at, alarms.c.id).limit(fetch_size(limit))
    if state == "open":
        query = query.where(alarms.c.state != "closed")
    if case_no:
        query = query.where(alarms.c.case_no == case_no)
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(query).mappings()
        emit_listing((alarm_json(row, settings.zone) for row in rows), limit, "alarms")


@click.command("alarm")
@click.argument("action", type=click.Choice(["ack", "urge", "close"]))
@click.argument("alarm_id", type=int)
@click.option(
    "--by",
    required=True,
    help="The officer's name, recorded in the audit trail (a department's dashboard user is refused).",
)
@click.option("--note", required=True, help="Why: recorded with the action.")
def alarm_command(action: str, alarm_id: int, by: str, note: str) -> None:
    """An officer's action on alarm ALARM_ID: ack (acknowledge), urge (督办) or close."""
    settings = _settings()
    engine = open_database(settings)
    with engine.connect() as conn:
        role = conn.execute(select(users.c.role).where(users.c.name == by.strip(), users.c.active.is_(True))).scalar()
    if role is not None and role not in ACTING_ROLES:
        raise click.ClickException(
            f"{by} is a {role} user: acknowledging, urging and closing alarms are for the officers above the department"
        )
    try:
        result = act(engine, alarm_id, action, by, note, datetime.now(UTC))
    except ActionRefused as exc:
        raise click.ClickException(str(exc)) from exc
    from app.base import outbox
    from app.base.messaging import connect

    emit(alarm_json(result.alarm, settings.zone))
    if not outbox.publish_now(engine, connect(settings), "alarm.relay"):
        click.echo(outbox.WAITS, err=True)


@click.command("case")
@click.argument("case_no")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object (the only format).")
def case_command(case_no: str, as_json: bool) -> None:
    """Show one case's judgement as JSON."""
    settings = _settings()
    engine = open_database(settings)
    with engine.connect() as conn:
        row = conn.execute(select(cases).where(cases.c.case_no == case_no)).mappings().first()
        if row is None:
            raise click.ClickException(f"no case {case_no!r} (not received, or not taken in yet: run supervise ingest)")
        kinds = (
            conn.execute(
                select(alarms.c.kind)
                .where(
                    alarms.c.case_no == case_no,
                    (alarms.c.closed_reason.is_(None)) | (alarms.c.closed_reason != "retracted"),
                )
                .order_by(alarms.c.fired_at, alarms.c.id)
            )
            .scalars()
            .all()
        )
    fields = (
        "case_no",
        "item_code",
        "status",
        "start_date",
        "deemed_accepted",
        "promise_due",
        "statutory_due",
        "paused_days",
        "extension_days",
        "completed_at",
        "on_time",
    )
    emit({f: _iso(row[f], settings) for f in fields} | {"alarms": list(kinds)})


@click.command("quality")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@limit_option("entries")
def quality_command(as_json: bool, limit: int) -> None:
    """List the data-quality log: rows set aside, with the reason."""
    settings = _settings()
    engine = open_database(settings)
    query = select(quality_log).order_by(quality_log.c.event_id, quality_log.c.id).limit(fetch_size(limit))
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(query).mappings()
        emit_listing(
            (
                {
                    "event_id": row["event_id"],
                    "reason": row["reason"],
                    "source": row["source"],
                    "logged_at": _iso(row["logged_at"], settings),
                }
                for row in rows
            ),
            limit,
            "entries",
        )


@click.command("escalate")
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="The instant that is 'now' (replay); local time if it has no offset. Default: the clock.",
)
def escalate_command(now_text: str | None) -> None:
    """Record alarms left unacknowledged past SUPERVISE_ESCALATE_MINUTES (action 'escalated').

    The ingest does this every cycle; running it again, or from several
    machines at once, records nothing twice.
    """

    from app.base import outbox
    from app.base.messaging import connect
    from ingest.escalation import escalate

    settings = _settings()
    now = parse_now(now_text, settings) or datetime.now(UTC)
    engine = open_database(settings)
    changes = escalate(engine, now, timedelta(minutes=settings.escalate_minutes))
    click.echo(f"escalated {len(changes)} alarm(s)")
    if changes and not outbox.publish_now(engine, connect(settings), "escalate.relay"):
        click.echo(outbox.WAITS, err=True)
