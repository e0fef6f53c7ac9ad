"""The tables in app/base/tables.py and the migrated database agree (SQLite and PostgreSQL),
and the dashboard's own pieces (KPI refresh, session secret) work on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.base.database import make_engine, upgrade
from app.base.tables import metadata


def _differences(url: str) -> list:
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return diff


def test_sqlite_schema_matches_tables(sqlite_url):
    assert _differences(sqlite_url) == []


@pytest.mark.slow
def test_postgres_schema_matches_tables(pg_url):
    assert _differences(pg_url) == []


@pytest.mark.slow
def test_kpi_and_secret_on_postgres(pg_url, tmp_path):
    from app.auth import shared_secret
    from app.base.exchange import exchange_engine
    from app.base.settings import Settings
    from app.kpi.aggregate import refresh
    from app.kpi.report import compute_report
    from app.queries.reference import read_reference
    from app.scope import scope_for
    from tests.web.conftest import NOW, make_region

    (tmp_path / "var").mkdir()
    region = make_region(Settings(var_dir=tmp_path / "var", db_url=pg_url))
    assert shared_secret(region.engine, NOW) == shared_secret(region.engine, NOW)
    assert refresh(region.engine, region.settings.zone, NOW) > 0
    reference = read_reference(exchange_engine(region.settings.exchange_url_resolved))
    report = compute_report(
        region.engine,
        reference,
        scope_for("city", "GX-450100", reference),
        date(2026, 11, 1),
        date(2026, 11, 30),
        NOW,
        region.settings.zone,
    )
    assert (report.totals.received, report.totals.completed, report.totals.on_time) == (18, 6, 3)
    region.engine.dispose()
