"""The web dashboard: one Flask server carrying the Dash pages, the JSON API,
PDF downloads, health, metrics and the video routes.

``create_app(settings, clock)`` builds it; time is an input (``clock()`` returns
an aware instant), so tests and demos can run the dashboard at any moment.
Several servers behind a load balancer share state only through PostgreSQL and
Redis: sessions are signed cookies (key in the database), caches live in Redis.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

import dash
from flask import Flask, Response, jsonify, redirect, request
from flask_caching import Cache
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import Engine

from app.database import make_engine, open_database
from app.messaging import connect
from app.queries.reference import ReferenceCache
from app.settings import Settings

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Services:
    """What every route and callback of one app needs, built once per app."""

    settings: Settings
    clock: Clock
    engine: Engine
    exchange_engine: Engine
    redis: object
    reference: ReferenceCache
    cache: Cache
    metrics: CollectorRegistry
    escalate_after: timedelta
    stale_after: timedelta
    _marker: tuple = field(default=(0.0, None))
    _marker_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def zone(self):
        return self.settings.zone

    def today(self):
        return self.clock().astimezone(self.zone).date()

    def board_marker(self) -> str:
        """Changes when any alarm changes: the stream position plus the newest alarm id and update.

        Shared by every session of this process for half a second, so fifty
        screens polling each second cost about two small queries a second.
        """
        from app.queries.alarms import change_marker
        from ingest.publisher import snapshot_position

        now = time.monotonic()
        read_at, value = self._marker
        if value is not None and now - read_at < 0.5:
            return value
        with self._marker_lock:
            read_at, value = self._marker
            if value is None or time.monotonic() - read_at >= 0.5:
                try:
                    position = snapshot_position(self.redis)
                except Exception:  # Redis down: the database alone still tells us
                    position = "?"
                newest_id, newest_update = change_marker(self.engine)
                value = f"{position}|{newest_id}|{newest_update}"
                self._marker = (time.monotonic(), value)
        return value

    @lru_cache(maxsize=256)
    def calendar(self, center_id: str | None = None):
        """The working-day calendar of a center: official days plus its own file, if any."""
        from rules.calendar import WorkCalendar, parse_center_override

        folder = self.settings.calendar_dir
        if folder and center_id and (folder / f"{center_id}.toml").exists():
            override = parse_center_override((folder / f"{center_id}.toml").read_text(encoding="utf-8"))
            return WorkCalendar.for_center(override)
        return WorkCalendar()

    __hash__ = object.__hash__


def create_app(settings: Settings, clock: Clock = system_clock, *, engine: Engine | None = None,
               background: bool = True) -> Flask:
    """The dashboard's WSGI app. `background` starts the KPI refresher thread."""
    from app import auth

    engine = engine or open_database(settings)
    server = Flask(__name__, static_folder=None)
    now = clock()
    server.config.update(
        SECRET_KEY=auth.web_option(settings, "secret_key", "") or auth.shared_secret(engine, now),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=auth.web_option(settings, "cookie_secure", "false").lower() in ("1", "true", "yes"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        JSON_AS_ASCII=False,
    )
    cache = Cache(server, config=_cache_config(settings))
    services = Services(
        settings=settings,
        clock=clock,
        engine=engine,
        exchange_engine=make_engine(settings.exchange_url_resolved),
        redis=connect(settings),
        reference=ReferenceCache(make_engine(settings.exchange_url_resolved)),
        cache=cache,
        metrics=CollectorRegistry(),
        escalate_after=timedelta(minutes=float(auth.web_option(settings, "escalate_minutes", 30.0))),
        stale_after=timedelta(minutes=float(auth.web_option(settings, "stale_minutes", 15.0))),
    )
    server.extensions["supervise"] = services
    auth.install(server, services)
    _install_metrics(server, services)
    _install_plain_routes(server, services)

    from app.callbacks import register_all
    from layouts.shell import shell_layout

    dash_app = dash.Dash(
        __name__,
        server=server,
        url_base_pathname="/",
        assets_folder=str(ASSETS),
        assets_ignore=r"fonts/.*",
        suppress_callback_exceptions=True,
        title="行政效能电子监察",
        update_title=None,
        serve_locally=True,
    )
    dash_app.layout = lambda: shell_layout(services)
    register_all(dash_app, services)

    _install_api(server, services)
    _install_downloads(server, services)
    _install_video(server, services)
    if background:
        from app.kpi import start_refresher

        start_refresher(services)
    return server


def _cache_config(settings: Settings) -> dict:
    if settings.redis_url:
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": settings.redis_url,
                "CACHE_KEY_PREFIX": "supervise:web:", "CACHE_DEFAULT_TIMEOUT": 300,
                "CACHE_OPTIONS": {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}}
    return {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300, "CACHE_THRESHOLD": 5000}


def _install_metrics(server: Flask, services: Services) -> None:
    requests_total = Counter("supervise_web_requests_total", "HTTP requests served.", ["kind", "status"],
                             registry=services.metrics)
    latency = Histogram("supervise_web_request_seconds", "Time to serve a request.", ["kind"],
                        registry=services.metrics,
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5))

    def kind_of(path: str) -> str:
        for prefix, kind in (("/_dash-update-component", "callback"), ("/api/", "api"), ("/video/", "video"),
                             ("/pdf/", "pdf"), ("/_dash-", "dash"), ("/assets/", "asset")):
            if path.startswith(prefix):
                return kind
        return "page"

    @server.before_request
    def _start():
        request.environ["supervise.start"] = time.perf_counter()

    @server.after_request
    def _count(response):
        started = request.environ.get("supervise.start")
        kind = kind_of(request.path)
        if started is not None:
            latency.labels(kind).observe(time.perf_counter() - started)
        requests_total.labels(kind, str(response.status_code)).inc()
        return response


def _install_plain_routes(server: Flask, services: Services) -> None:
    from app.i18n import COOKIE, LANGUAGES
    from app.queries.health import database_ok, freshness

    @server.route("/healthz")
    def healthz():
        db_ok = database_ok(services.engine)
        try:
            redis_ok = bool(services.redis.ping())
        except Exception:
            redis_ok = False
        body = {"status": "ok" if db_ok and redis_ok else "degraded", "database": db_ok, "redis": redis_ok}
        if db_ok:
            fresh = freshness(services.engine, services.clock())
            body["ingest_age_seconds"] = fresh.age_seconds
            body["stale"] = fresh.age_seconds is None or fresh.age_seconds > services.stale_after.total_seconds()
        return jsonify(body), (200 if db_ok else 503)

    @server.route("/metrics")
    def metrics():
        parts = [generate_latest(services.metrics)]
        try:
            from ingest.metrics import registry as ingest_registry

            parts.append(generate_latest(ingest_registry))
        except ImportError:
            pass
        return Response(b"".join(parts), mimetype="text/plain; version=0.0.4; charset=utf-8")

    @server.route("/lang/<code>")
    def set_language(code: str):
        from urllib.parse import urlsplit

        from app.auth import _safe_next

        target = request.args.get("next")
        if not target and request.referrer:
            parts = urlsplit(request.referrer)
            target = parts.path + ("?" + parts.query if parts.query else "")
        response = redirect(_safe_next(target or "/"))
        if code in LANGUAGES:
            response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="Lax")
        return response


def run_in_thread(settings: Settings, port: int, clock: Clock = system_clock, host: str = "127.0.0.1"):
    """Serve the dashboard from a background thread of this process (for `make demo`).

    Uses waitress, a production WSGI server, never Flask's development server.
    Returns the waitress server; call ``.close()`` to stop it.
    """
    from waitress.server import create_server

    wsgi = create_app(settings, clock)
    server = create_server(wsgi, host=host, port=port, threads=8, ident="supervise")
    thread = threading.Thread(target=server.run, name=f"web.waitress:{port}", daemon=True)
    thread.start()
    return server


def _install_api(server: Flask, services: Services) -> None:
    pass


def _install_downloads(server: Flask, services: Services) -> None:
    pass


def _install_video(server: Flask, services: Services) -> None:
    pass
