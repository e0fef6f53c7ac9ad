"""`supervise assess rules|month|adjust|report`: the monthly efficiency assessment (月度效能测评)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from app.base.json_lines import emit, iso

NOW_HELP = "The instant of the step (replay); local time if it has no offset."


def load_rules(path: Path | None):
    """The rules file (SUPERVISE_ASSESSMENT_RULES or --rules), else the built-in defaults; one line on a fault."""
    from rules.assessment import DEFAULT_RULES, RulesError, parse_rules

    if path is None:
        return parse_rules(DEFAULT_RULES)
    try:
        return parse_rules(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"assessment rules {path}: {exc.strerror}") from None
    except RulesError as exc:
        raise click.ClickException(f"assessment rules {path}: {exc}") from None


def _refused(action):
    from app.assessment.months import AssessmentRefused

    try:
        return action()
    except AssessmentRefused as exc:
        raise click.ClickException(str(exc)) from None


def _setup():
    from app.base.database import open_database
    from ingest.command import _settings

    settings = _settings()
    return settings, open_database(settings)


def _departments(settings) -> dict[str, str]:
    from app.base.exchange import open_exchange
    from app.queries.reference import read_reference

    reference = read_reference(open_exchange(settings))
    return {d.dept_id: d.center_id for d in reference.departments.values()}


@click.group("assess")
def assess_command() -> None:
    """The monthly efficiency assessment: rules, month (draft, --lock, --publish), adjust, report."""


@assess_command.command("rules")
@click.option("--check", "check", type=click.Path(path_type=Path, dir_okay=False), help="Check this rules file.")
def assess_rules(check: Path | None) -> None:
    """Print the default rules file, or check one (one line on a fault, exit 1)."""
    from rules.assessment import DEFAULT_RULES

    if check is None:
        click.echo(DEFAULT_RULES, nl=False)
        return
    rules = load_rules(check)
    click.echo(f"{check}: rules version {rules.version} are usable")


@assess_command.command("month")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("--lock", is_flag=True, help="Reviewed: lock the draft (it never changes again).")
@click.option("--publish", is_flag=True, help="Publish the locked month.")
@click.option("--by", help="The officer locking or publishing (recorded in the audit log).")
@click.option(
    "--rules", "rules_path", type=click.Path(path_type=Path, dir_okay=False), help="Rules file to score with."
)
@click.option("--json", "as_json", is_flag=True, help="Print every unit's score as JSON lines.")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def assess_month(
    month_text: str, lock: bool, publish: bool, by: str | None, rules_path, as_json: bool, now_text: str | None
) -> None:
    """Compute a draft month from the data as it stands (a locked one is only shown), or lock or publish it."""
    from app.assessment import months
    from ingest.command import parse_now

    settings, engine = _setup()
    month = _refused(lambda: months.parse_month(month_text))
    now = parse_now(now_text, settings) or datetime.now(UTC)
    if lock and publish:
        raise click.ClickException("--lock and --publish are two steps: lock first, publish after review")
    if lock or publish:
        if not by:
            raise click.ClickException("--lock and --publish need the officer's name (--by)")
        step = months.lock if lock else months.publish
        state = _refused(lambda: step(engine, month, by, now))
        click.echo(f"{month_text} is {state['state']} (rules {state['rules_version']})", err=True)
    else:
        state = months.month_state(engine, month)
        if state is None or state["state"] == "draft":
            rules = load_rules(rules_path or settings.assessment_rules)
            _refused(lambda: months.compute(engine, month, rules, _departments(settings), settings.zone, now))
        else:
            click.echo(f"{month_text} is {state['state']}: shown as locked", err=True)
    if as_json:
        with engine.connect() as conn:
            for row in months.scores_of(conn, month):
                emit({k: iso(v, settings.zone) for k, v in row.items()})


@assess_command.command("adjust")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("--unit", required=True, help="dept:<dept_id> or center:<center_id>.")
@click.option("--points", type=float, required=True, help="Signed points: a bonus is positive.")
@click.option("--reason", required=True, help="Why (recorded).")
@click.option("--by", required=True, help="The officer (recorded in the audit log).")
@click.option("--now", "now_text", metavar="ISO8601", help=NOW_HELP)
def assess_adjust(month_text: str, unit: str, points: float, reason: str, by: str, now_text: str | None) -> None:
    """A manual adjustment of a draft month; the next `assess month` scores it in."""
    from app.assessment import months
    from ingest.command import parse_now

    settings, engine = _setup()
    month = _refused(lambda: months.parse_month(month_text))
    now = parse_now(now_text, settings) or datetime.now(UTC)
    _refused(lambda: months.adjust(engine, month, unit, points, reason, by, now))
    click.echo(f"adjustment of {unit} recorded; `supervise assess month {month_text}` scores it in", err=True)


@assess_command.command("report")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def assess_report(month_text: str, output: Path, lang: str) -> None:
    """Write the month's 月度效能测评通报 as a PDF (rankings, charts, the lowest scores)."""
    from app.assessment import months
    from app.assessment.report import month_report
    from app.base.exchange import open_exchange
    from app.queries.reference import read_reference

    settings, engine = _setup()
    month = _refused(lambda: months.parse_month(month_text))
    reference = read_reference(open_exchange(settings))
    pdf = _refused(lambda: month_report(engine, reference, month, lang))
    output.write_bytes(pdf)
    click.echo(f"wrote {output} ({len(pdf)} bytes)", err=True)
