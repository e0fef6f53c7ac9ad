"""Prometheus metrics of the ingest, in their own registry so tests and
several components in one process never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

registry = CollectorRegistry()

rows_total = Counter("supervise_ingest_rows_total", "Exchange rows taken in.", ["source"], registry=registry)
quality_rejects_total = Counter(
    "supervise_ingest_quality_rejects_total", "Rows set aside in the data-quality log.", ["source"], registry=registry
)
duplicates_total = Counter("supervise_ingest_duplicates_total", "Exact repeats ignored.", registry=registry)
lag_rows = Gauge("supervise_ingest_lag_rows", "Exchange rows not yet taken in.", ["source"], registry=registry)
lag_seconds = Gauge(
    "supervise_ingest_lag_seconds", "Age of the newest row taken in, behind now.", ["source"], registry=registry
)
rows_per_second = Gauge("supervise_ingest_rows_per_second", "Rows/s over the last batch.", registry=registry)
open_alarms = Gauge("supervise_open_alarms", "Alarms not yet closed.", ["kind"], registry=registry)
is_leader = Gauge("supervise_ingest_leader", "1 while this process is the active ingest.", registry=registry)
set_aside_total = Counter(
    "supervise_ingest_set_aside_total",
    "Set aside with a reason in the data-quality log so that the rest goes on: an exchange row whose check "
    "raised (row), a case whose judgement raised (case) or whose item cannot be used (case_item), a rating "
    "(rating) or a camera outage (outage) whose judgement raised; a share of the checks of rows changed upstream "
    "that raised (row_checks).",
    ["what"],
    registry=registry,
)
refused_items = Gauge(
    "supervise_ingest_refused_items", "Catalogue items that cannot be used (their cases wait).", registry=registry
)
rows_checked_total = Counter(
    "supervise_ingest_rows_checked_total",
    "Exchange rows taken in and read again, to notice changes upstream.",
    ["source"],
    registry=registry,
)
upstream_changes_total = Counter(
    "supervise_ingest_upstream_changes_total",
    "Exchange rows found changed, deleted or written in the past upstream after the ingest took them in.",
    ["source"],
    registry=registry,
)
