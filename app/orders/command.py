"""`supervise order issue|answer|accept|return|list|show` and `supervise appeal file|decide|list|show`.

Every step names its user (--by), who must be an active dashboard user: their role and
scope say what they may do (officers issue, accept, return and decide; a department's
users answer and appeal for their own department only). Reads print JSON lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import click
from sqlalchemy import Engine

from app.base.json_lines import emit, emit_listing, iso, limit_option
from app.base.settings import Settings
from app.orders.actors import Actor, Refused
from app.queries.reference import Reference

NOW_HELP = "The instant of the step (replay); local time if it has no offset."


@dataclass
class _Context:
    settings: Settings
    engine: Engine
    reference: Reference

    def rules(self):
        from app.base.calendars import CalendarBook
        from app.orders.orders import OrderRules

        try:
            calendars = CalendarBook.from_dir(self.settings.calendar_dir)
        except ValueError as exc:
            raise click.ClickException(f"SUPERVISE_CALENDAR_DIR: {exc}") from None
        s = self.settings
        return OrderRules(s.zone, calendars, s.order_prefix, s.order_feedback_days)

    def actor(self, name: str) -> Actor:
        from app.orders.actors import actor_of

        return actor_of(self.engine, self.reference, name)

    def now(self, text: str | None) -> datetime:
        from ingest.command import parse_now

        return parse_now(text, self.settings) or datetime.now(UTC)

    def json(self, row: dict) -> dict:
        return {k: _plain(v, self.settings) for k, v in row.items()}

    def publish(self) -> None:
        from app.base import outbox
        from app.base.messaging import connect

        if not outbox.publish_now(self.engine, connect(self.settings), "order.relay"):
            click.echo(outbox.WAITS, err=True)


def _plain(value, settings: Settings):
    if isinstance(value, list):
        return [_plain(v, settings) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, settings) for k, v in value.items()}
    return iso(value, settings.zone)


def _context() -> _Context:
    from app.base.database import open_database
    from app.base.exchange import open_exchange
    from app.queries.reference import read_reference
    from ingest.command import _settings

    settings = _settings()
    return _Context(settings, open_database(settings), read_reference(open_exchange(settings)))


def _step(action):
    """Run one step; a refusal is one line and exit 1."""
    try:
        return action()
    except Refused as exc:
        raise click.ClickException(str(exc)) from None


# --- orders ---------------------------------------------------------------------------------------


@click.group("order")
def order_command() -> None:
    """Supervision orders (督办单): issue, answer (反馈), accept (办结), return (退回), list, show."""


@order_command.command("issue")
@click.argument("alarm_ids", type=int, nargs=-1, required=True)
@click.option("--by", required=True, help="The issuing officer (a region, city or center user).")
@click.option("--instructions", required=True, help="What the department must do (督办意见).")
@click.option(
    "--days", type=click.IntRange(1, 60), help="Working days to answer (default SUPERVISE_ORDER_FEEDBACK_DAYS)."
)
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def order_issue(alarm_ids: tuple[int, ...], by: str, instructions: str, days: int | None, now_text: str | None) -> None:
    """Issue an order on ALARM_IDS (open alarms of one case and one department)."""
    from app.orders.orders import issue

    c = _context()
    order = _step(
        lambda: issue(
            c.engine, c.actor(by), alarm_ids, instructions, c.now(now_text), c.rules(), c.reference, feedback_days=days
        )
    )
    emit(c.json(order))
    c.publish()


@order_command.command("answer")
@click.argument("order_id", type=int)
@click.option("--by", required=True, help="A user of the order's department.")
@click.option("--cause", required=True, help="Why it happened (原因).")
@click.option("--measures", required=True, help="What was done about it (整改措施).")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def order_answer(order_id: int, by: str, cause: str, measures: str, now_text: str | None) -> None:
    """The department's feedback (反馈) on order ORDER_ID."""
    from app.orders.orders import answer

    c = _context()
    emit(c.json(_step(lambda: answer(c.engine, c.actor(by), order_id, cause, measures, c.now(now_text)))))


order_command.add_command(order_answer, "feedback")


@order_command.command("accept")
@click.argument("order_id", type=int)
@click.option("--by", required=True, help="An officer whose scope holds the order.")
@click.option("--note", required=True, help="The officer's conclusion, recorded with it.")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def order_accept(order_id: int, by: str, note: str, now_text: str | None) -> None:
    """Accept the feedback on ORDER_ID: the order is done (办结)."""
    from app.orders.orders import accept

    c = _context()
    emit(c.json(_step(lambda: accept(c.engine, c.actor(by), order_id, note, c.now(now_text)))))


@order_command.command("return")
@click.argument("order_id", type=int)
@click.option("--by", required=True, help="An officer whose scope holds the order.")
@click.option("--reason", required=True, help="Why the feedback is not enough (退回理由).")
@click.option("--days", type=click.IntRange(1, 60), help="Working days to answer again (default as on issue).")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def order_return(order_id: int, by: str, reason: str, days: int | None, now_text: str | None) -> None:
    """Return the feedback on ORDER_ID (退回) with a new deadline."""
    from app.orders.orders import return_order

    c = _context()
    order = _step(
        lambda: return_order(c.engine, c.actor(by), order_id, reason, c.now(now_text), c.rules(), feedback_days=days)
    )
    emit(c.json(order))


@order_command.command("list")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option(
    "--state",
    type=click.Choice(["open", "awaiting", "answered", "accepted", "all"]),
    default="open",
    show_default=True,
    help="open: not yet accepted.",
)
@click.option("--as", "as_user", help="Only what this user may see (a department's user: its own orders).")
@limit_option("orders")
def order_list(as_json: bool, state: str, as_user: str | None, limit: int) -> None:
    """List orders, newest first, one JSON object per line."""
    from app.orders.orders import orders_in
    from app.scope import Scope

    c = _context()
    scope = _step(lambda: c.actor(as_user).scope) if as_user else Scope("region", "", None)
    rows = orders_in(c.engine, scope, None if state == "all" else state, limit + 1 if limit else 10**9)
    emit_listing((c.json(r) for r in rows), limit, "orders")


@order_command.command("show")
@click.argument("order_id", type=int)
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object (the only format).")
@click.option("--as", "as_user", help="Only if this user may see it.")
def order_show(order_id: int, as_json: bool, as_user: str | None) -> None:
    """One order with its alarms and its whole history."""
    from app.orders.orders import order_view
    from app.scope import Scope

    c = _context()
    scope = _step(lambda: c.actor(as_user).scope) if as_user else Scope("region", "", None)
    order = order_view(c.engine, scope, order_id)
    if order is None:
        raise click.ClickException(f"no order with id {order_id}" + (f" that {as_user} may see" if as_user else ""))
    emit(c.json(order))


# --- appeals --------------------------------------------------------------------------------------


@click.group("appeal")
def appeal_command() -> None:
    """Appeals (申诉) of alarms: file (a department's user), decide (an officer above it), list, show."""


@appeal_command.command("file")
@click.argument("alarm_id", type=int)
@click.option("--by", required=True, help="A user of the alarm's department.")
@click.option("--reason", required=True, help="Why the alarm is wrong.")
@click.option("--evidence", default="", help="Evidence, as text (document numbers, what they show).")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def appeal_file(alarm_id: int, by: str, reason: str, evidence: str, now_text: str | None) -> None:
    """Appeal alarm ALARM_ID of your own department."""
    from app.orders.appeals import file

    c = _context()
    appeal = _step(
        lambda: file(
            c.engine, c.actor(by), alarm_id, reason, evidence, c.now(now_text), c.rules(), c.settings.appeal_days
        )
    )
    emit(c.json(appeal))


@appeal_command.command("decide")
@click.argument("appeal_id", type=int)
@click.argument("decision", type=click.Choice(["revoke", "reject", "refer"]))
@click.option("--by", required=True, help="An officer of the level the appeal is at.")
@click.option("--note", required=True, help="The reasons of the decision.")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def appeal_decide(appeal_id: int, decision: str, by: str, note: str, now_text: str | None) -> None:
    """Decide APPEAL_ID: revoke (撤销: the alarm closes as revoked), reject (驳回), refer (上报)."""
    from app.orders.appeals import decide

    c = _context()
    appeal = _step(
        lambda: decide(
            c.engine,
            c.actor(by),
            appeal_id,
            decision,
            note,
            c.now(now_text),
            c.rules(),
            c.reference,
            c.settings.appeal_days,
        )
    )
    emit(c.json(appeal))
    if decision == "revoke":
        c.publish()


@appeal_command.command("list")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option(
    "--state",
    type=click.Choice(["open", "pending", "referred", "revoked", "rejected", "all"]),
    default="open",
    show_default=True,
)
@click.option("--as", "as_user", help="Only what this user may see.")
@limit_option("appeals")
def appeal_list(as_json: bool, state: str, as_user: str | None, limit: int) -> None:
    """List appeals, newest first, with `shown` = 'overdue' when a decision is late."""
    from app.orders.appeals import appeals_in
    from app.scope import Scope
    from rules.orders import appeal_state

    c = _context()
    scope = _step(lambda: c.actor(as_user).scope) if as_user else Scope("region", "", None)
    now = datetime.now(UTC)
    rows = appeals_in(c.engine, scope, None if state == "all" else state, limit + 1 if limit else 10**9)
    records = (c.json(r | {"shown": appeal_state(r["state"], r["decide_by"], now, c.settings.zone)}) for r in rows)
    emit_listing(records, limit, "appeals")


@appeal_command.command("show")
@click.argument("appeal_id", type=int)
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object (the only format).")
def appeal_show(appeal_id: int, as_json: bool) -> None:
    """One appeal with its whole history."""
    from app.orders.appeals import appeal_view
    from app.scope import Scope

    c = _context()
    appeal = appeal_view(c.engine, Scope("region", "", None), appeal_id)
    if appeal is None:
        raise click.ClickException(f"no appeal with id {appeal_id}")
    emit(c.json(appeal))


@order_command.command("print")
@click.argument("order_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="The PDF file to write.")
@click.option("--as", "as_user", help="Only if this user may see it.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def order_print(order_id: int, output: str, as_user: str | None, lang: str) -> None:
    """The order and its whole history as a printable PDF."""
    from pathlib import Path

    from app.orders.printout import order_pdf
    from app.scope import Scope

    c = _context()
    scope = _step(lambda: c.actor(as_user).scope) if as_user else Scope("region", "", None)
    pdf = order_pdf(c.engine, scope, c.reference, order_id, c.settings.zone, lang)
    if pdf is None:
        raise click.ClickException(f"no order with id {order_id}" + (f" that {as_user} may see" if as_user else ""))
    Path(output).write_bytes(pdf)
    click.echo(f"wrote {output} ({len(pdf)} bytes)", err=True)
