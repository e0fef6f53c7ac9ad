"""The web server's KPI refresher: each minute it brings the pre-aggregates up to date
(one server at a time does the work) and, when days changed, computes the default
reports into the shared cache before the first manager asks."""

from __future__ import annotations

import logging
import threading

from app.base import outage
from app.kpi.aggregate import REFRESH_SECONDS, refresh
from app.kpi.report import default_range, report

log = logging.getLogger(__name__)


def prewarm(services) -> int:
    """Compute the default report (the page's first view) of the region and every city and center into the cache.

    Runs in the server that just refreshed, so after each refresh the first
    manager to open the KPI page does not pay for the new version.
    """
    from app.scope import scope_for

    reference = services.reference.get()
    start, end = default_range(services.today())
    count = 0
    for center in sorted(
        reference.centers.values(), key=lambda c: (c.level != "region", c.level != "city", c.center_id)
    ):
        role = {"region": "region", "city": "city"}.get(center.level, "center")
        report(services, scope_for(role, center.center_id, reference), start, end)
        count += 1
    return count


def start_refresher(services) -> threading.Thread:
    """A daemon thread keeping kpi_daily fresh (on PostgreSQL one server at a time works)."""
    stop = threading.Event()
    services.kpi_stop = stop

    def loop():
        while True:
            try:
                days = refresh(services.engine, services.zone, services.clock())
                if days:
                    log.info("kpi: %d day(s) changed", days)
                    prewarm(services)
            except Exception as error:
                if not outage.transient(error):  # an outage has its own two lines (app.outage)
                    log.exception("kpi refresh failed; retrying in %.0f s", REFRESH_SECONDS)
            if stop.wait(REFRESH_SECONDS):
                return

    thread = threading.Thread(target=loop, name="web.kpi-refresh", daemon=True)
    thread.start()
    return thread
