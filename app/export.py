"""`supervise export`: the dashboard's PDF snapshots from the command line.

    supervise export case CASE_NO -o F.pdf
    supervise export kpi --scope ID --from D --to D -o F.pdf
    supervise export control-room -o F.pdf

The operator running the command holds the database credentials, so the
default scope is the whole region; ``--user NAME`` exports with that user's
scope instead. Every export is audited as ``cli:<login>``.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import click

LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
USER = click.option("--user", "user_name", default=None, help="Export with this dashboard user's scope.")
OUT = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)


class _Context:
    """The pieces of app.web.Services a PDF needs, without a web server."""

    def __init__(self, user_name: str | None, lang: str):
        from app.base.database import open_database
        from app.base.exchange import exchange_engine
        from app.base.settings import load
        from app.queries.reference import read_reference
        from app.scope import Scope, scope_for

        self.settings = load()
        self.engine = open_database(self.settings)
        self.reference = read_reference(exchange_engine(self.settings.exchange_url_resolved))
        self.now = datetime.now(UTC)
        self.lang = lang
        self.actor = f"cli:{getpass.getuser()}"
        if user_name:
            from app.auth import find_user

            user = find_user(self.engine, user_name)
            if user is None:
                raise click.ClickException(f"no active user {user_name!r}")
            self.scope = scope_for(user.role, user.scope_id, self.reference)
            self.actor += f" as {user_name}"
        else:
            self.scope = Scope("region", self.reference.region_id() or "region", None)

    def sources(self):
        from app.pdf import Sources
        from app.web import center_calendar

        return Sources(
            self.engine,
            self.reference,
            self.now,
            self.settings.zone,
            lambda center_id: center_calendar(self.settings.calendar_dir, center_id),
            self.settings.var_dir,
            self.actor,
            self.lang,
        )

    def audit(self, target: str, detail: dict) -> None:
        from app.auth import audit

        audit(self.engine, self.actor, "export_pdf", target, detail, self.now, None)


@click.group("export")
def export_command() -> None:
    """Write PDF snapshots (case dossier, KPI report, control room)."""


@export_command.command("case")
@click.argument("case_no")
@OUT
@LANG
@USER
def export_case(case_no: str, output: Path, lang: str, user_name: str | None) -> None:
    """The dossier of CASE_NO: timeline, clocks, alarms, actions, evidence stills.

    Any case number works; one that starts with "-" follows "--": export case -o F.pdf -- -123.
    """
    from app.base.display import TITLE, shown
    from app.pdf import case_dossier

    context = _Context(user_name, lang)
    body = case_dossier(context.sources(), context.scope, case_no)
    if body is None:
        raise click.ClickException(f"case {shown(case_no, TITLE)} does not exist or lies outside the scope")
    output.write_bytes(body)
    context.audit(f"case:{case_no}", {"kind": "case", "file": str(output)})
    click.echo(f"wrote {output} ({len(body)} bytes)")


@export_command.command("kpi")
@click.option("--scope", "scope_id", default=None, help="A center_id (or dept_id); default: your whole scope.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@OUT
@LANG
@USER
def export_kpi(
    scope_id: str | None, start: datetime, end: datetime, output: Path, lang: str, user_name: str | None
) -> None:
    """The KPI report of a scope over a date range, charts as vector graphics."""
    from app.kpi.aggregate import refresh
    from app.kpi.report import compute_report, narrow_scope
    from app.pdf import kpi_report

    context = _Context(user_name, lang)
    try:
        scope = narrow_scope(context.reference, context.scope, scope_id)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    first, last = start.date(), end.date()
    if last < first:
        raise click.ClickException("--to is before --from")
    refresh(context.engine, context.settings.zone, context.now)
    report = compute_report(context.engine, context.reference, scope, first, last, context.now, context.settings.zone)
    body = kpi_report(context.sources(), report)
    output.write_bytes(body)
    context.audit(f"kpi:{scope.scope_id}", {"kind": "kpi", "from": str(first), "to": str(last)})
    click.echo(f"wrote {output} ({len(body)} bytes)")


@export_command.command("control-room")
@OUT
@LANG
@USER
def export_control_room(output: Path, lang: str, user_name: str | None) -> None:
    """The control room as it stands now: counts, load per center, open alarms."""
    from datetime import timedelta

    from app.auth import web_option
    from app.pdf import control_room_snapshot
    from app.queries import alarms as alarm_queries

    context = _Context(user_name, lang)
    escalate = timedelta(minutes=float(web_option(context.settings, "escalate_minutes", 30.0)))
    board = alarm_queries.board(context.engine, context.scope, alarm_queries.BoardFilters(), context.now, escalate)
    load = alarm_queries.load_by_place(context.engine, context.scope)
    body = control_room_snapshot(context.sources(), context.scope, board, load)
    output.write_bytes(body)
    context.audit("control-room", {"kind": "control_room", "file": str(output)})
    click.echo(f"wrote {output} ({len(body)} bytes)")
