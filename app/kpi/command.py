"""`supervise kpi refresh|rebuild`: maintain the KPI pre-aggregation by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from sqlalchemy import delete

from app.base.database import long_statements
from app.base.tables import kpi_state
from app.kpi.aggregate import month_of, rebuild_days, rebuild_months, refresh


@click.group("kpi")
def kpi_command() -> None:
    """KPI pre-aggregation (kpi_daily)."""


@kpi_command.command("refresh")
def kpi_refresh() -> None:
    """Rebuild the days touched since the last refresh (all days the first time)."""

    from app.base.database import open_database
    from app.base.settings import load

    settings = load()
    days = refresh(open_database(settings), settings.zone, datetime.now(UTC))
    click.echo(f"kpi: {days} day(s) changed")


@kpi_command.command("rebuild")
@click.option("--days", type=int, default=None, help="Only the last N days (default: everything).")
def kpi_rebuild(days: int | None) -> None:
    """Recompute days whole (refresh already follows late data; this is for e.g. a restored backup)."""

    from app.base.database import open_database
    from app.base.settings import load

    settings = load()
    engine = open_database(settings)
    now = datetime.now(UTC)
    if days is None:
        with engine.begin() as conn:
            conn.execute(delete(kpi_state))
        click.echo(f"kpi: {refresh(engine, settings.zone, now)} day(s) changed")
        return
    today = now.astimezone(settings.zone).date()
    chosen = {today - timedelta(days=i) for i in range(days)}
    with long_statements():
        changed = rebuild_days(engine, chosen, settings.zone)
        rebuild_months(engine, {month_of(d) for d in chosen})  # a repair: the months are summed again regardless
    click.echo(f"kpi: recomputed {len(chosen)} day(s), {len(changed)} changed")
