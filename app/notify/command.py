"""`supervise contact …`, `supervise routes …` and `supervise notify`.

Listings are one JSON object per line, phones and e-mail addresses masked.
Bad input ends in one line and exit 2, never a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from app.base.json_lines import emit, emit_listing, limit_option


def _settings():
    from app.base.settings import load

    try:
        return load()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


# --- supervise contact ------------------------------------------------------------------------


@click.group("contact")
def contact_command() -> None:
    """Who is responsible where: the people alarms are sent to, per center and department."""


@contact_command.command("add")
@click.argument("name")
@click.option("--role", required=True, help="窗口负责人, 中心督查员, 分管领导 …")
@click.option("--center", "center_id", required=True, help="The center's id.")
@click.option("--dept", "dept_id", default="", help="The department's id; omitted: the center itself.")
@click.option("--mobile", help="Mainland mobile number (SMS, and @-mentions in WeCom/DingTalk).")
@click.option("--email", help="E-mail address.")
@click.option("--wecom-user", help="WeCom user id.")
@click.option("--dingtalk-user", help="DingTalk user id.")
@click.option("--by", "actor", default="cli", show_default=True, help="Who makes the change (audited).")
def contact_add(name, role, center_id, dept_id, mobile, email, wecom_user, dingtalk_user, actor) -> None:
    """Add a contact; the same name and role at the same place is updated instead."""
    from app.base.database import open_database
    from app.notify import contacts

    settings = _settings()
    try:
        contact_id = contacts.add(
            open_database(settings),
            name=name,
            role=role,
            center_id=center_id,
            dept_id=dept_id,
            mobile=mobile,
            email=email,
            wecom_user=wecom_user,
            dingtalk_user=dingtalk_user,
            by=actor,
            now=datetime.now(UTC),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    emit({"id": contact_id, "name": name.strip(), "center_id": center_id, "dept_id": dept_id or None})


@contact_command.command("list")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option("--center", "center_ids", multiple=True, help="Only this center's contacts (repeatable).")
@click.option("--dept", "dept_id", help="Only this department's contacts.")
@limit_option("contacts")
def contact_list(as_json: bool, center_ids: tuple[str, ...], dept_id: str | None, limit: int) -> None:
    """List contacts (mobile and e-mail masked)."""
    from app.base.database import open_database
    from app.base.json_lines import fetch_size
    from app.notify import contacts

    found = contacts.listing(open_database(_settings()), center_ids or None, dept_id, fetch_size(limit))
    emit_listing(map(contacts.shown, found), limit, "contacts")


@contact_command.command("remove")
@click.argument("contact_id", type=click.IntRange(min=1, max=2**63 - 1))
@click.option("--by", "actor", default="cli", show_default=True, help="Who makes the change (audited).")
def contact_remove(contact_id: int, actor: str) -> None:
    """Remove a contact by its id."""
    from app.base.database import open_database
    from app.notify import contacts

    if not contacts.remove(open_database(_settings()), contact_id, by=actor, now=datetime.now(UTC)):
        raise click.UsageError(f"no contact {contact_id}")


# --- supervise routes -------------------------------------------------------------------------


@click.group("routes")
def routes_command() -> None:
    """The notification routing file (SUPERVISE_ROUTES; unset: the default routes)."""


@routes_command.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
def routes_check(path: Path | None) -> None:
    """Check a routing file (default: SUPERVISE_ROUTES); one line naming the line of the first fault."""
    from app.notify.config import read_routes
    from rules.routing import RoutesError

    if path is None:
        path = _settings().routes
    try:
        routes = read_routes(path)
    except RoutesError as exc:
        raise click.UsageError(str(exc)) from None
    count = _count(routes.root)
    click.echo(f"{path or 'default routes'}: {count} routes, {len(routes.receivers)} receivers, OK")


def _count(route) -> int:
    return 1 + sum(_count(child) for child in route.routes)


@routes_command.command("show-default")
def routes_show_default() -> None:
    """Print the default routing file (a start for your own)."""
    from rules.routing import DEFAULT_ROUTES

    click.echo(DEFAULT_ROUTES, nl=False)


@routes_command.command("test")
@click.option("--kind", required=True, help="The alarm's kind, e.g. receipt_unprocessed.")
@click.option("--level", required=True, help="alarm (red) or warning (yellow).")
@click.option("--center", "center_id", required=True, help="The alarm's center id.")
@click.option("--dept", "dept_id", help="The alarm's department id.")
@click.option("--at", "at_text", metavar="ISO8601", help="When it fires (default now): when would it be sent?")
@click.option(
    "--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="Routing file (default: SUPERVISE_ROUTES)."
)
def routes_test(kind, level, center_id, dept_id, at_text, path) -> None:
    """Which routes, receivers and group an alarm would go to, and when its first message would go out
    (group_wait, then held to the route's active time in the center's calendar), as amtool does."""
    from app.base.calendars import CalendarBook
    from app.notify.config import read_routes
    from app.notify.places import tree_of
    from ingest.command import parse_now
    from rules.routing import LEVEL_NAMES, AlarmLabels, RoutesError, group_key, send_at

    settings = _settings()
    if level not in LEVEL_NAMES:
        raise click.UsageError(f"level {level!r} is neither alarm (red) nor warning (yellow)")
    try:
        routes = read_routes(path or settings.routes)
        calendar = CalendarBook.from_dir(settings.calendar_dir).for_center(center_id)
    except (RoutesError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    fired = parse_now(at_text, settings) or datetime.now(UTC)
    tree = tree_of(settings)
    labels = AlarmLabels(LEVEL_NAMES[level], kind, center_id, dept_id, tree.above(center_id))
    for route in routes.match(labels):
        for receiver in route.receivers or ("(none)",):
            emit(
                {
                    "route": route.path,
                    "receiver": receiver,
                    "type": routes.receivers[receiver].type if receiver in routes.receivers else None,
                    "group": group_key(route, receiver, labels),
                    "first_message_at": send_at(fired + route.group_wait, route, calendar, settings.zone)
                    .astimezone(settings.zone)
                    .isoformat(),
                    "escalate_after": str(route.escalate_after) if route.escalate_after else None,
                    "escalates_to": list(tree.above(center_id)) if route.escalate_after else [],
                }
            )


# --- supervise notify -------------------------------------------------------------------------


def build(settings, engine=None, redis=None):
    """A Notifier on the configured database, Redis, routes, centers, calendars and SMS gateway."""
    from app.base.calendars import CalendarBook
    from app.base.database import open_database
    from app.base.messaging import connect
    from app.notify.config import read_routes
    from app.notify.notifier import Notifier
    from app.notify.places import tree_of
    from app.notify.receivers import Sender
    from app.sms.gateway import make_gateway
    from rules.routing import RoutesError

    try:
        routes = read_routes(settings.routes)
        calendars = CalendarBook.from_dir(settings.calendar_dir)
    except (RoutesError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    return Notifier(
        engine or open_database(settings),
        redis or connect(settings),
        routes,
        tree_of(settings),
        calendars.for_center,
        settings.zone,
        Sender(make_gateway(settings.sms, settings.var_dir)),
    )


@click.group("notify", invoke_without_command=True)
@click.option("--once", is_flag=True, help="One round: take what is on the stream, send what is due, exit.")
@click.option("--now", "now_text", metavar="ISO8601", help="With --once: the instant of the round.")
@click.pass_context
def notify_command(ctx: click.Context, once: bool, now_text: str | None) -> None:
    """Follow the alarm stream and send alarms to the people responsible, by the routes
    (SUPERVISE_ROUTES): grouped, inhibited, silenced, in active times, escalated by level."""
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from ingest.command import parse_now

    settings = _settings()
    notifier = build(settings)
    if once:
        result = notifier.run_once(parse_now(now_text, settings) or datetime.now(UTC))
        click.echo(str(result), err=True)
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    notifier.run(lambda: datetime.now(UTC), stop)


@notify_command.command("log")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option(
    "--state", type=click.Choice(["queued", "sending", "sent", "failed"]), help="Only messages in this state."
)
@limit_option("notifications")
def notify_log(as_json: bool, state: str | None, limit: int) -> None:
    """The notification log, newest first: to whom (masked), through which receiver, its state and answer."""
    from app.base.database import open_database
    from app.base.json_lines import fetch_size, iso
    from app.notify import outbox

    settings = _settings()
    rows = outbox.listing(open_database(settings), state, fetch_size(limit))
    keys = ("id", "receiver", "channel", "recipient", "state", "attempts", "alarm_ids", "answer", "last_error")
    emit_listing(
        (
            {
                **{k: row[k] for k in keys},
                "group": row["group_key"],
                "created_at": iso(row["created_at"], settings.zone),
                "sent_at": iso(row["sent_at"], settings.zone),
                "text": row["text"] if row["channel"] in ("sms", "wecom", "dingtalk") else row["text"][:2000],
            }
            for row in rows
        ),
        limit,
        "notifications",
    )


# --- supervise silence ------------------------------------------------------------------------


@click.group("silence")
def silence_command() -> None:
    """Mute matching alarms' notifications for a while, with a note (audited, expiring by themselves)."""


def _matchers(pairs: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pair in pairs:
        label, sep, value = pair.partition("=")
        if not sep or not value:
            raise click.UsageError(f"--match {pair!r} is not LABEL=VALUE (e.g. kind=camera_offline)")
        found.setdefault(label.strip(), []).append(value.strip())
    return found


@silence_command.command("add")
@click.option("--match", "pairs", multiple=True, required=True, help="LABEL=VALUE: level, kind, center, department.")
@click.option("--for", "duration", required=True, help="How long, e.g. 2h, 1d.")
@click.option("--from", "from_text", metavar="ISO8601", help="When it starts (default now).")
@click.option("--by", "actor", required=True, help="The officer (audited).")
@click.option("--note", required=True, help="Why.")
def silence_add(pairs, duration, from_text, actor, note) -> None:
    """Add a silence."""
    from app.base.database import open_database
    from app.notify import silences
    from ingest.command import parse_now
    from rules.routing import parse_duration

    settings = _settings()
    now = datetime.now(UTC)
    starts = parse_now(from_text, settings) or now
    try:
        ends = starts + parse_duration(duration)
        silence_id = silences.add(open_database(settings), _matchers(pairs), starts, ends, by=actor, note=note, now=now)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    emit(
        {
            "id": silence_id,
            "starts_at": starts.astimezone(settings.zone).isoformat(),
            "ends_at": ends.astimezone(settings.zone).isoformat(),
        }
    )


@silence_command.command("list")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@limit_option("silences")
def silence_list(as_json: bool, limit: int) -> None:
    """Silences, newest first, with their state (pending, active, expired)."""
    from app.base.database import open_database
    from app.base.json_lines import fetch_size, iso
    from app.notify import silences

    settings = _settings()
    rows = silences.listing(open_database(settings), datetime.now(UTC), fetch_size(limit))
    emit_listing(({k: iso(v, settings.zone) for k, v in row.items()} for row in rows), limit, "silences")


@silence_command.command("expire")
@click.argument("silence_id", type=click.IntRange(min=1, max=2**63 - 1))
@click.option("--by", "actor", required=True, help="The officer (audited).")
def silence_expire(silence_id: int, actor: str) -> None:
    """End a silence now."""
    from app.base.database import open_database
    from app.notify import silences

    if not silences.expire(open_database(_settings()), silence_id, by=actor, now=datetime.now(UTC)):
        raise click.UsageError(f"no silence {silence_id} in force or to come")
