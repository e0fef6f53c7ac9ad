"""The KPI pre-aggregation follows late data that moves or retracts a completion.

The real ingest judges the cases (so `cases` is written exactly as in
production), then `app.kpi.aggregate.refresh` runs as the web server's refresher would.
After each late row, the incremental aggregates must equal a rebuild from
scratch, day by day and month by month, with no manual `kpi rebuild`.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from app.base.database import make_engine
from app.base.settings import Settings
from app.base.tables import kpi_daily, kpi_monthly, kpi_state
from app.cli import cli
from tests.ingest.exchange_builder import Exchange

DAY_A, DAY_B = date(2025, 10, 13), date(2025, 10, 9)


class Region:
    def __init__(self, tmp_path, db_url: str | None):
        self.exchange = Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")
        self.env = {"SUPERVISE_VAR_DIR": str(tmp_path)} | ({"SUPERVISE_DB_URL": db_url} if db_url else {})
        self.settings = Settings(var_dir=tmp_path, db_url=db_url or "")
        self._engine = None

    def ingest(self, now: str) -> None:
        result = CliRunner().invoke(cli, ["ingest", "--once", "--now", now], env=self.env)
        assert result.exit_code == 0, result.output + repr(result.exception)

    @property
    def engine(self):
        if self._engine is None:
            self._engine = make_engine(self.settings.db_url_resolved)
        return self._engine

    def refresh(self, now: str) -> None:
        from app.kpi.aggregate import refresh

        refresh(self.engine, self.settings.zone, datetime.fromisoformat(now))

    def aggregates(self) -> tuple[list, list]:
        with self.engine.connect() as conn:
            daily = [tuple(r) for r in conn.execute(select(kpi_daily).order_by(*kpi_daily.primary_key.columns))]
            monthly = [tuple(r) for r in conn.execute(select(kpi_monthly).order_by(*kpi_monthly.primary_key.columns))]
        return daily, monthly

    def from_scratch(self, now: str) -> tuple[list, list]:
        """What `supervise kpi rebuild` (everything) would write, leaving the database as it found it."""
        kept = self.aggregates()
        with self.engine.begin() as conn:
            state = conn.execute(select(kpi_state)).mappings().all()
            for table in (kpi_state, kpi_daily, kpi_monthly):
                conn.execute(delete(table))
        self.refresh(now)
        rebuilt = self.aggregates()
        with self.engine.begin() as conn:
            for table in (kpi_state, kpi_daily, kpi_monthly):
                conn.execute(delete(table))
            if state:
                conn.execute(kpi_state.insert(), [dict(r) for r in state])
            if kept[0]:
                conn.execute(kpi_daily.insert(), [dict(zip(kpi_daily.c.keys(), r)) for r in kept[0]])
            if kept[1]:
                conn.execute(kpi_monthly.insert(), [dict(zip(kpi_monthly.c.keys(), r)) for r in kept[1]])
        return rebuilt

    def completed_on(self, day: date) -> int:
        with self.engine.connect() as conn:
            return sum(conn.execute(select(kpi_daily.c.completed).where(kpi_daily.c.day == day)).scalars())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def kpi_region(request, tmp_path, monkeypatch):
    for name in ("SUPERVISE_EXCHANGE_URL", "SUPERVISE_DB_URL", "SUPERVISE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    db_url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    region = Region(tmp_path, db_url)
    yield region
    if region._engine is not None:
        region._engine.dispose()


def test_a_completion_moved_or_retracted_by_late_data_leaves_no_stale_day(kpi_region):
    region, x = kpi_region, kpi_region.exchange
    x.event("C1", "received", "2025-09-29 09:00", item_code="ITEM-W")
    x.event("C1", "accepted", "2025-09-29 10:00")
    x.event("C1", "completed", "2025-10-13 16:00", {"result": "approved"})  # day A
    x.event("C2", "received", "2025-09-30 09:00", item_code="ITEM-W")  # a neighbour that never moves
    x.event("C2", "accepted", "2025-09-30 10:00")
    x.event("C2", "completed", "2025-10-09 15:00", {"result": "approved"})  # counted on day B throughout
    region.ingest("2025-10-14T10:00:00+08:00")
    region.refresh("2025-10-14T10:01:00+08:00")
    assert (region.completed_on(DAY_A), region.completed_on(DAY_B)) == (1, 1)
    assert region.aggregates() == region.from_scratch("2025-10-14T10:01:00+08:00")

    # A completion on day B, pushed two days late, is the case's real end: day A loses it, day B gains it.
    x.event("C1", "completed", "2025-10-09 11:00", {"result": "approved"}, recorded="2025-10-15 09:00")
    region.ingest("2025-10-15T10:00:00+08:00")
    region.refresh("2025-10-15T10:01:00+08:00")
    assert (region.completed_on(DAY_A), region.completed_on(DAY_B)) == (0, 2)
    assert region.aggregates() == region.from_scratch("2025-10-15T10:01:00+08:00")

    # Then a withdrawal from before both completions: the case never completed at all.
    x.event("C1", "withdrawn", "2025-10-08 09:00", recorded="2025-10-16 09:00")
    region.ingest("2025-10-16T10:00:00+08:00")
    region.refresh("2025-10-16T10:01:00+08:00")
    assert (region.completed_on(DAY_A), region.completed_on(DAY_B)) == (0, 1)
    assert region.aggregates() == region.from_scratch("2025-10-16T10:01:00+08:00")


def test_a_refresh_with_nothing_new_keeps_the_cache_version(kpi_region):
    """Each refresh looks again at the cases judged just before its mark; unchanged days must not move the
    version, or every cached report is thrown away (and the prewarm recomputed) once a minute for nothing."""
    from app.kpi.report import version as kpi_version

    region, x = kpi_region, kpi_region.exchange
    x.event("C1", "received", "2025-09-29 09:00", item_code="ITEM-W")
    x.event("C1", "completed", "2025-10-13 16:00", {"result": "approved"})
    region.ingest("2025-10-14T10:00:00+08:00")
    region.refresh("2025-10-14T10:01:00+08:00")
    version = kpi_version(region.engine)
    region.refresh("2025-10-14T10:02:00+08:00")  # C1 still lies within the safety margin of the mark
    assert kpi_version(region.engine) == version
    x.event("C1", "completed", "2025-10-09 11:00", {"result": "approved"}, recorded="2025-10-15 09:00")
    region.ingest("2025-10-15T10:00:00+08:00")
    region.refresh("2025-10-15T10:01:00+08:00")
    assert kpi_version(region.engine) != version
