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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import dash
from flask import Flask, Response, jsonify, redirect, request
from flask_caching import Cache
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import Engine

from app.base import outage
from app.base.database import Limits, open_database
from app.base.exchange import exchange_engine
from app.base.messaging import connect
from app.base.outbox import Relay
from app.base.settings import Settings
from app.queries.reference import ReferenceCache

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=512)
def center_calendar(calendar_dir: Path | None, center_id: str | None = None):
    """Official working days plus the center's own file (<calendar_dir>/<center_id>.toml), if it has one."""
    from app.base import calendars

    return calendars.center_calendar(calendar_dir, center_id)


# How old a board marker may be: a new alarm reaches the screens within this plus one poll.
MARKER_SECONDS = 0.5
OUTBOX_LATE_SECONDS = 60.0  # /healthz says degraded when an alarm change has waited this long for the stream


@lru_cache(maxsize=8)
def _marker_key(engine: Engine) -> str:
    """The shared marker's Redis key, one per supervision database (tests run several against one Redis)."""
    import hashlib

    return (
        "supervise:web:board-marker:"
        + hashlib.sha256(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    )


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
    relay: Relay | None = None  # publishes the alarm outbox: officers' actions, and anything the ingest left
    _marker: tuple = field(default=(0.0, None))
    _marker_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def zone(self):
        return self.settings.zone

    def today(self):
        return self.clock().astimezone(self.zone).date()

    def board_marker(self) -> str:
        """Changes when any alarm changes: the stream position plus the newest alarm id and update.

        At most MARKER_SECONDS old. Shared by every session of this process, and
        through Redis by every process of the deployment: one of them reads the
        stream and the database, the others one small key (:meth:`_read_marker`).
        """
        read_at, value = self._marker
        if value is not None and 0 <= time.time() - read_at < MARKER_SECONDS:
            return value
        with self._marker_lock:
            read_at, value = self._marker
            if value is None or not 0 <= time.time() - read_at < MARKER_SECONDS:
                try:
                    read_at, value = self._read_marker()
                except Exception as error:
                    if value is None or not outage.transient(error):
                        raise
                    return value  # the database is down: boards go on answering from their caches
                self._marker = (read_at, value)
        return value

    def forget_board_marker(self) -> None:
        """The next board_marker(), here or in any process, reads the stream and the database again."""
        self._marker = (0.0, None)
        try:
            self.redis.delete(_marker_key(self.engine))
        except Exception:  # it expires within MARKER_SECONDS anyway
            pass

    def _read_marker(self) -> tuple[float, str]:
        """(wall-clock instant it was read at, marker): another process's if it is young enough, else read now.

        The shared copy and the stream position come in one round trip, so the
        process that reads the database pays no more Redis trips than before.
        """
        from app.base.alarm_stream import STREAM
        from app.queries.alarms import change_marker

        key = _marker_key(self.engine)
        stamp = time.time()  # taken before reading, so a marker read now is at least this fresh
        try:
            shared, last = self.redis.pipeline(transaction=False).get(key).xrevrange(STREAM, count=1).execute()
        except Exception:  # Redis down: the database alone still tells us
            shared, last = None, None
        if shared:
            try:
                shared_at, _, value = shared.decode().partition(" ")
                # Wall-clock time, as processes on several machines compare it; a stamp from the future is not trusted.
                if value and 0 <= stamp - float(shared_at) < MARKER_SECONDS:
                    return float(shared_at), value
            except ValueError:
                pass
        if last is None:
            position = "?"
        else:  # as app.base.alarm_stream.snapshot_position reads it
            position = (last[0][0].decode() if isinstance(last[0][0], bytes) else last[0][0]) if last else "0-0"
        newest_id, newest_update = change_marker(self.engine)
        value = f"{position}|{newest_id}|{newest_update}"
        if position != "?":
            try:
                self.redis.set(key, f"{stamp!r} {value}", px=int(MARKER_SECONDS * 1000))
            except Exception:
                pass
        return stamp, value

    def calendar(self, center_id: str | None = None):
        """The working-day calendar of a center: official days plus its own file, if any."""
        return center_calendar(self.settings.calendar_dir, center_id)

    def pdf_sources(self, lang: str | None = None):
        """What the PDF makers need, for the user of this request."""
        from app.auth import actor_name
        from app.i18n import current_lang
        from app.pdf import Sources

        return Sources(
            self.engine,
            self.reference.get(),
            self.clock(),
            self.zone,
            self.calendar,
            self.settings.var_dir,
            actor_name(),
            lang or current_lang(),
        )

    __hash__ = object.__hash__


def create_app(
    settings: Settings,
    clock: Clock = system_clock,
    *,
    engine: Engine | None = None,
    background: bool = True,
    video_live=None,
) -> Flask:
    """The dashboard's WSGI app.

    `background` starts the KPI refresher thread; `video_live` is the live source
    for video/routes.py (the demo passes its camera pool; by default each web
    process pulls a camera on demand while someone watches it).
    """
    from app import auth, unavailable
    from app.links import CaseNumberConverter

    engine = engine or open_database(settings)
    server = Flask(__name__, static_folder=None)
    # A case number may hold any characters, "//" too: routes read it whole (app/links.py).
    server.url_map.merge_slashes = False
    server.url_map.converters["case_no"] = CaseNumberConverter
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
        exchange_engine=exchange_engine(settings.exchange_url_resolved, Limits.of(settings)),
        redis=connect(settings),
        reference=ReferenceCache(exchange_engine(settings.exchange_url_resolved, Limits.of(settings))),
        cache=cache,
        metrics=CollectorRegistry(),
        escalate_after=timedelta(minutes=float(auth.web_option(settings, "escalate_minutes", 30.0))),
        stale_after=timedelta(minutes=float(auth.web_option(settings, "stale_minutes", 15.0))),
    )
    services.relay = Relay(engine, services.redis, name="web.relay")
    server.extensions["supervise"] = services
    unavailable.install(server)
    auth.install(server, services)
    _install_metrics(server, services)
    _install_plain_routes(server, services)

    from flask_login import current_user
    from flask_wtf.csrf import generate_csrf

    from app.callbacks import register_all
    from app.i18n import current_lang
    from layouts.shell import shell_layout

    def shell():
        user_name = current_user.name if current_user.is_authenticated else ""
        return shell_layout(current_lang(), user_name, generate_csrf())

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
    dash_app.layout = shell
    register_all(dash_app, services)

    _install_api(server, services)
    from app.sms.routes import register as register_sms

    register_sms(server, services)
    from app.sms.routes import blueprint as sms_blueprint

    auth.exempt_from_csrf(server, sms_blueprint)
    _install_downloads(server, services)
    _install_video(server, services, video_live)
    _install_evidence(server, services)
    from app import headers

    headers.install(server, dash_app, settings)
    if background:
        from app.kpi.refresher import start_refresher

        start_refresher(services)
        services.relay.start()
    return server


def _cache_config(settings: Settings) -> dict:
    if settings.redis_url:  # a Redis error is a miss (app/near_cache.py)
        return {
            "CACHE_TYPE": "app.near_cache.NearRedisCache",
            "CACHE_REDIS_URL": settings.redis_url,
            "CACHE_KEY_PREFIX": "supervise:web:",
            "CACHE_DEFAULT_TIMEOUT": 300,
            "CACHE_OPTIONS": {"socket_timeout": 2.0},
        }
    return {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300, "CACHE_THRESHOLD": 5000}


def _install_metrics(server: Flask, services: Services) -> None:
    requests_total = Counter(
        "supervise_web_requests_total", "HTTP requests served.", ["kind", "status"], registry=services.metrics
    )
    latency = Histogram(
        "supervise_web_request_seconds",
        "Time to serve a request.",
        ["kind"],
        registry=services.metrics,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
    )

    def kind_of(path: str) -> str:
        for prefix, kind in (
            ("/_dash-update-component", "callback"),
            ("/api/", "api"),
            ("/video/", "video"),
            ("/pdf/", "pdf"),
            ("/_dash-", "dash"),
            ("/assets/", "asset"),
            ("/evidence/", "video"),
        ):
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
            elapsed = time.perf_counter() - started
            latency.labels(kind).observe(elapsed)
            response.headers["Server-Timing"] = f"app;dur={elapsed * 1000:.1f}"
        requests_total.labels(kind, str(response.status_code)).inc()
        return response


def _install_plain_routes(server: Flask, services: Services) -> None:
    from app.i18n import COOKIE, LANGUAGES
    from app.queries.health import database_ok, exchange_problem, freshness

    @server.route("/healthz")
    def healthz():
        from app.base.outbox import refresh_gauges
        from app.notify.outbox import counts as notify_counts

        db_ok = database_ok(services.engine)
        exchange = exchange_problem(services.exchange_engine)
        try:
            redis_ok = bool(services.redis.ping())
        except Exception:
            redis_ok = False
        failing = {
            name: why
            for name, why in (
                ("database", None if db_ok else "unreachable"),
                ("exchange", exchange),
                ("redis", None if redis_ok else "unreachable"),
            )
            if why
        }
        body = {
            "status": "degraded" if failing else "ok",
            "database": db_ok,
            "exchange": exchange is None,
            "redis": redis_ok,
            "failing": failing,
        }
        if db_ok:
            fresh = freshness(services.engine, services.clock())
            body["ingest_age_seconds"] = fresh.age_seconds
            body["stale"] = fresh.age_seconds is None or fresh.age_seconds > services.stale_after.total_seconds()
            # Alarm changes not yet on the alarm stream: a backlog that lasts means no relay can reach Redis.
            waiting = refresh_gauges(services.engine)
            body["outbox"] = {"backlog": waiting.count, "oldest_seconds": round(waiting.oldest_seconds, 1)}
            if waiting.oldest_seconds > OUTBOX_LATE_SECONDS:
                body["status"] = "degraded"
            # Notifications to the people responsible: those undeliverable after every try (app/notify/).
            sent_or_not = notify_counts(services.engine)
            body["notifications"] = {"failed": sent_or_not.get("failed", 0), "queued": sent_or_not.get("queued", 0)}
        return jsonify(body), (200 if db_ok else 503)

    @server.route("/metrics")
    def metrics():
        from app.auth import may_read_metrics
        from app.base import metrics as shared_metrics
        from app.base.outbox import refresh_gauges

        if not may_read_metrics(services.settings):
            response = jsonify(error="metrics need the bearer token (SUPERVISE_METRICS_TOKEN) or an allowed address")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response, 401

        try:
            refresh_gauges(services.engine)
        except Exception:  # the database is down: the gauges keep their last values
            pass
        parts = [generate_latest(services.metrics), generate_latest(shared_metrics.registry)]
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


def _totals_json(totals) -> dict:
    from dataclasses import asdict

    return {
        **asdict(totals),
        "on_time_rate": totals.on_time_rate,
        "early_rate": totals.early_rate,
        "correction_rate": totals.correction_rate,
        "one_visit_rate": totals.one_visit_rate,
        "avg_used_days": totals.avg_used,
        "avg_promised_days": totals.avg_promised,
        "avg_score": totals.avg_score,
        "satisfied_rate": totals.satisfied_rate,
    }


API_LIMIT = 10_000  # the most alarms one /api/alarms answer holds


def _install_api(server: Flask, services: Services) -> None:
    """JSON for scripts, under the same login (session cookie or HTTP basic) and scopes as the pages."""
    from app.auth import actor_name, audit, current_scope, remote_addr
    from app.base.alarm_json import alarm_json
    from app.base.json_lines import iso
    from app.case_view import read_clocks
    from app.i18n import current_lang, t
    from app.kpi import report as kpi
    from app.queries import alarms as alarm_queries
    from app.queries import cases as case_queries

    def refuse(status: int, key: str, target: str):
        audit(
            services.engine,
            actor_name(),
            "denied",
            target,
            {"path": request.path},
            services.clock(),
            remote_addr(services.settings),
        )
        return jsonify(error=t(key, current_lang())), status

    @server.route("/api/alarms")
    def api_alarms():
        scope = current_scope(services)
        args = request.args
        state = args.get("state", "open")
        if state not in ("open", "all"):
            return jsonify(error="state must be open or all"), 400
        filters = alarm_queries.BoardFilters(
            args.get("center") or None, args.get("dept") or None, args.get("kind") or None, args.get("level") or None
        )
        try:
            limit = int(args.get("limit", 1000))
        except ValueError:
            limit = 0
        if not 1 <= limit <= API_LIMIT:
            return jsonify(error=f"limit must be a whole number from 1 to {API_LIMIT}"), 400
        rows = alarm_queries.listing(services.engine, scope, filters, state, args.get("case") or None, limit + 1)
        response = jsonify([alarm_json(r, services.zone) for r in rows[:limit]])
        # Never a silent cut: a script sees that more alarms exist than it was sent.
        response.headers["X-Supervise-More"] = "true" if len(rows) > limit else "false"
        return response

    @server.route("/api/cases")
    @server.route("/api/cases/<case_no:case_no>")
    def api_case(case_no: str | None = None):
        scope = current_scope(services)
        case_no = case_no if case_no is not None else request.args.get("no", "")
        if not case_no:
            return jsonify(error="name the case: /api/cases/<case_no> or /api/cases?no=<case_no>"), 400
        row = case_queries.case(services.engine, scope, case_no)
        if row is None:
            return refuse(404, "api.not_found", f"case:{case_no}")
        zone, today = services.zone, services.today()
        calendar = services.calendar(row["center_id"])
        alarm_rows = alarm_queries.for_case(services.engine, scope, case_no)
        body = {
            k: row[k]
            for k in (
                "case_no",
                "item_code",
                "status",
                "deemed_accepted",
                "paused_days",
                "extension_days",
                "on_time",
                "early",
                "used_days",
                "promised_days",
                "corrections",
                "center_id",
                "dept_id",
                "window_id",
                "staff_id",
            )
        }
        body |= {
            k: iso(row[k], zone) for k in ("received_at", "start_date", "promise_due", "statutory_due", "completed_at")
        }
        body["alarms"] = [alarm_json(a, zone) for a in alarm_rows]
        body["clocks"] = [
            {
                "name": c.name,
                "start": iso(c.start, zone),
                "due": iso(c.due, zone),
                "stopped_at": iso(c.stopped_at, zone),
                "paused_days": c.paused_days,
                "extension_days": c.extension_days,
                "working_days_left": c.days_left(calendar, today),
            }
            for c in read_clocks(row)
        ]
        return jsonify(body)

    @server.route("/api/kpi")
    def api_kpi():
        user_scope = current_scope(services)
        try:
            scope, start, end = kpi.parse_request(services, user_scope, request.args)
        except kpi.BadRange as exc:
            return jsonify(error=str(exc)), 400
        except ValueError:
            return refuse(403, "api.forbidden", f"kpi:{request.args.get('scope')}")
        report = kpi.report(services, scope, start, end)
        return jsonify(
            {
                "scope": scope.scope_id,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "satisfied_score": report.satisfied_score,
                "overdue_open": report.overdue_open,
                "totals": _totals_json(report.totals),
                "rollup": [
                    {"center_id": r.center_id, "name": r.name, "depth": r.depth, **_totals_json(r.totals)}
                    for r in report.rollup
                ],
                "rankings": {
                    name: [{"id": r.key, "name": r.name, **_totals_json(r.totals)} for r in rows[:50]]
                    for name, rows in report.rankings.items()
                },
                "trend": [{"week": week.isoformat(), **_totals_json(totals)} for week, totals in report.trend],
            }
        )


def _pdf_response(body: bytes, filename: str) -> Response:
    from urllib.parse import quote

    return Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename, safe='')}",
            "Cache-Control": "no-store",
        },
    )


def _install_downloads(server: Flask, services: Services) -> None:
    """PDF snapshots: scoped like the pages, and every export is audited."""
    from flask import abort

    from app import pdf
    from app.auth import actor_name, audit, current_scope, remote_addr
    from app.base.display import in_file_name
    from app.queries import alarms as alarm_queries
    from app.queries.alarms import BoardFilters

    def record(action: str, target: str, detail: dict) -> None:
        audit(services.engine, actor_name(), action, target, detail, services.clock(), remote_addr(services.settings))

    @server.route("/pdf/case.pdf")
    @server.route("/pdf/case/<case_no:case_no>.pdf")
    def case_pdf(case_no: str | None = None):
        scope = current_scope(services)
        case_no = case_no if case_no is not None else request.args.get("no", "")
        if not case_no:
            abort(404)
        body = pdf.case_dossier(services.pdf_sources(), scope, case_no)
        if body is None:
            record("denied", f"case:{case_no}", {"export": "case_pdf"})
            abort(404)
        record("export_pdf", f"case:{case_no}", {"kind": "case"})
        return _pdf_response(body, f"办件档案-{in_file_name(case_no)}.pdf")

    @server.route("/pdf/control-room.pdf")
    def control_room_pdf():
        scope = current_scope(services)
        filters = BoardFilters(
            request.args.get("center") or None,
            request.args.get("dept") or None,
            request.args.get("kind") or None,
            request.args.get("level") or None,
        )
        board = alarm_queries.board(services.engine, scope, filters, services.clock(), services.escalate_after)
        load = alarm_queries.load_by_place(services.engine, scope)
        record("export_pdf", "control-room", {"kind": "control_room"})
        body = pdf.control_room_snapshot(services.pdf_sources(), scope, board, load)
        stamp = services.clock().astimezone(services.zone).strftime("%Y%m%d-%H%M")
        return _pdf_response(body, f"监控大厅快照-{stamp}.pdf")

    @server.route("/pdf/kpi.pdf")
    def kpi_pdf():
        from app.kpi import report as kpi

        scope = current_scope(services)
        try:
            request_scope, start, end = kpi.parse_request(services, scope, request.args)
        except kpi.BadRange:
            abort(400)
        except ValueError:
            record("denied", f"kpi:{request.args.get('scope')}", {"export": "kpi_pdf"})
            abort(403)
        report = kpi.report(services, request_scope, start, end)
        record("export_pdf", f"kpi:{request_scope.scope_id}", {"kind": "kpi", "from": str(start), "to": str(end)})
        body = pdf.kpi_report(services.pdf_sources(), report)
        return _pdf_response(body, f"效能指标-{start}-{end}.pdf")


VIDEO_VIEW_AUDIT_SECONDS = 300  # one audit line per user and camera per five minutes of watching


def authorize_camera(services: Services, camera_id: str) -> bool:
    """The video routes' hook: logged in, camera in scope, view audited; otherwise 401/403."""
    from flask import abort

    from app.auth import actor_name, audit, current_scope, remote_addr

    scope = current_scope(services)  # 401 without a user
    now = services.clock()
    who = actor_name()
    if not scope.allows_camera(services.reference.get(), camera_id):
        audit(
            services.engine,
            who,
            "denied",
            f"camera:{camera_id}",
            {"path": request.path},
            now,
            remote_addr(services.settings),
        )
        abort(403)
    try:
        first = services.redis.set(
            f"supervise:web:video-view:{who}:{camera_id}", "1", nx=True, ex=VIDEO_VIEW_AUDIT_SECONDS
        )
    except Exception:
        first = True  # without Redis, audit every view rather than none
    if first:
        audit(
            services.engine,
            who,
            "view_video",
            f"camera:{camera_id}",
            {"path": request.path},
            now,
            remote_addr(services.settings),
        )
    return True


def _install_video(server: Flask, services: Services, live=None) -> None:
    """Mount video/routes.py with our authorize hook, and guard every /video/ path ourselves as well."""
    import inspect

    @server.before_request
    def _guard_video():
        parts = request.path.split("/")
        if len(parts) >= 4 and parts[1] == "video":
            authorize_camera(services, parts[2])

    def authorize(camera_id: str) -> bool:
        return authorize_camera(services, camera_id)

    try:
        from video import routes as video_routes
    except ImportError:
        video_routes = None
    factory = None
    for name in ("create_blueprint", "make_blueprint", "video_blueprint"):
        factory = getattr(video_routes, name, None) if video_routes else None
        if factory:
            break
    if factory is not None:
        accepted = inspect.signature(factory).parameters
        offered = {
            "settings": services.settings,
            "authorize": authorize,
            "redis": services.redis,
            "clock": services.clock,
            "live": live,
        }
        offered = {k: v for k, v in offered.items() if v is not None}
        server.register_blueprint(factory(**{k: v for k, v in offered.items() if k in accepted}))
        return
    log.warning("video.routes is not available: serving placeholder pictures for cameras")
    server.register_blueprint(_placeholder_video(services))


def _placeholder_video(services: Services):
    """Stand-in video routes (same paths, same guard) until video/routes.py exists: a labelled grey frame."""
    import io

    from flask import Blueprint, abort

    blueprint = Blueprint("video_placeholder", __name__)

    def frame(camera_id: str) -> bytes:
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (480, 270), (38, 50, 56))
        draw = ImageDraw.Draw(image)
        stamp = services.clock().astimezone(services.zone).strftime("%H:%M:%S")
        draw.text((12, 12), f"{camera_id}  {stamp}", fill=(230, 230, 230))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=70)
        return buffer.getvalue()

    @blueprint.route("/video/<camera_id>/snapshot.jpg")
    def snapshot(camera_id):
        return Response(frame(camera_id), mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    @blueprint.route("/video/<camera_id>/live.mjpeg")
    def live_mjpeg(camera_id):
        def frames():
            for _ in range(600):  # a stand-in stream ends by itself after ten minutes
                yield b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + frame(camera_id) + b"\r\n"
                time.sleep(1.0)

        return Response(frames(), mimetype="multipart/x-mixed-replace; boundary=frame")

    @blueprint.route("/video/<camera_id>/live.mp4")
    def live_mp4(camera_id):
        abort(404)

    return blueprint


def _install_evidence(server: Flask, services: Services) -> None:
    from flask import abort, send_file

    from app.auth import actor_name, audit, current_scope, remote_addr
    from app.queries.cases import evidence_item

    @server.route("/evidence/<int:evidence_id>.jpg")
    def evidence_still(evidence_id: int):
        scope = current_scope(services)
        item = evidence_item(services.engine, scope, services.reference.get(), evidence_id)
        if item is None:
            audit(
                services.engine,
                actor_name(),
                "denied",
                f"evidence:{evidence_id}",
                {},
                services.clock(),
                remote_addr(services.settings),
            )
            abort(404)
        root = services.settings.var_dir.resolve()
        path = (root / item["path"]).resolve()
        if root not in path.parents or not path.is_file():
            abort(404)
        return send_file(path, mimetype="image/jpeg")  # private like every answer (app/headers.py)
