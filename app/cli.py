"""The `supervise` console command.

Subcommands live beside the code they drive and are imported only when run,
so `supervise --help` stays instant and a command never pays for another's
dependencies (PyAV, Dash). Bad input ends in one clear line and exit 2,
never a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

# name -> (module:attribute of the click command, one-line help shown by --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("app.base.database:db_command", "Manage the supervision database (migrations)."),
    "simulate": (
        "app.simulate.command:simulate_command",
        "Write a realistic simulated region into an exchange database.",
    ),
    "demo": ("app.demo:demo_command", "Run everything on embedded defaults and print the URL."),
    "ingest": ("ingest.command:ingest_command", "Take in exchange rows and fire due alarms."),
    "alarms": ("ingest.command:alarms_command", "List alarms as JSON lines."),
    "alarm": ("ingest.command:alarm_command", "Officer actions on one alarm: ack, urge, close."),
    "escalate": ("ingest.command:escalate_command", "Record alarms left unacknowledged too long (escalated)."),
    "case": ("ingest.command:case_command", "Show one case's judgement as JSON."),
    "quality": ("ingest.command:quality_command", "List the data-quality log as JSON lines."),
    "video": ("video.command:video_command", "Run camera workers (health, thumbnails, evidence)."),
    "cameras": ("video.command:cameras_command", "List camera health as JSON lines."),
    "serve": ("app.serve:serve_command", "Run the web dashboard with gunicorn (several workers)."),
    "front": ("app.front:front_command", "Print the nginx front's site (slow clients, TLS, live video)."),
    "user": ("app.users:user_command", "Dashboard users: add (password from stdin) or remove a user."),
    "export": ("app.export:export_command", "Write PDF snapshots: case dossier, KPI report, control room."),
    "kpi": ("app.kpi.command:kpi_command", "Maintain the KPI pre-aggregation (refresh, rebuild)."),
    "sms": ("app.sms.command:sms_command", "Completion SMS and satisfaction replies: outbox, inbox, send."),
    "rating": ("app.sms.command:rating_command", "Satisfaction ratings: list, follow-up (整改) of low ones."),
    "contact": ("app.notify.command:contact_command", "Who is responsible where: add, list, remove contacts."),
    "routes": ("app.notify.command:routes_command", "The notification routing file: check it, test an alarm."),
    "notify": ("app.notify.command:notify_command", "Send alarms to the people responsible (routes, groups)."),
    "silence": ("app.notify.command:silence_command", "Mute matching alarms' notifications for a while (audited)."),
    "order": ("app.orders.command:order_command", "Supervision orders (督办单): issue, answer, accept, return."),
    "assess": (
        "app.assessment.command:assess_command",
        "Monthly efficiency assessment (月度效能测评): score, lock, report.",
    ),
    "appeal": ("app.orders.command:appeal_command", "Appeals (申诉) of alarms: file, decide (撤销/驳回/上报)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # --help lists every command from the table without importing any of them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, short_help = COMMANDS[name]
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        command.short_help = command.short_help or short_help
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """supervise — 行政效能电子监察: supervision of government service centers.

    Configuration comes from SUPERVISE_* environment variables; see README.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        cli.main(prog_name="supervise", standalone_mode=True)
    except ValueError as exc:  # configuration errors from app.base.settings.load()
        click.echo(f"supervise: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
