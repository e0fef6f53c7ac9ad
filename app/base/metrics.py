"""Prometheus metrics of the ground floor, the same in every process: its link to Redis,
its databases (app.base.outage) and the alarm outbox. Served by the web's ``/metrics`` and the ingest's
``--metrics-port`` beside their own, from a registry of their own so that tests
and the all-in-one demo never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

registry = CollectorRegistry()

redis_up = Gauge("supervise_redis_up", "1 while this process reaches Redis, 0 during an outage.", registry=registry)
redis_up.set(1)  # until an outage says otherwise (the embedded stand-in never has one)
redis_outages_total = Counter(
    "supervise_redis_outages_total", "Redis outages this process has seen begin.", registry=registry
)
outbox_backlog = Gauge(
    "supervise_outbox_backlog", "Alarm changes in the outbox not yet on the alarm stream.", registry=registry
)
outbox_oldest_seconds = Gauge(
    "supervise_outbox_oldest_seconds",
    "Age of the oldest alarm change not yet on the alarm stream (0: none).",
    registry=registry,
)
outbox_published_total = Counter(
    "supervise_outbox_published_total", "Alarm changes this process's relay put on the alarm stream.", registry=registry
)

database_down = Gauge(
    "supervise_database_down", "1 while this process finds the database unavailable.", ["database"], registry=registry
)
database_outages_total = Counter(
    "supervise_database_outages_total", "Database outages this process has seen begin.", ["database"], registry=registry
)
database_transient_errors_total = Counter(
    "supervise_database_transient_errors_total",
    "Database calls that failed with an error that passes by itself (an outage, a statement timeout, a deadlock).",
    ["database"],
    registry=registry,
)
