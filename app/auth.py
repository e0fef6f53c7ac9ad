"""Logging in, who is asking, and the audit trail of what they did.

* Passwords are argon2id hashes (``users.password_hash``), checked through
  :mod:`app.logins`: throttled per name and address, at most a few at once,
  and as slowly for an unknown name as for a wrong password.
* A login is a row in ``web_sessions`` (:mod:`app.sessions`); Flask's signed
  cookie carries only its token. Logout, and a change of the user's password,
  role or scope, end it in every web process at the next request. The cookie is
  signed with a secret every server shares through the database
  (``web_secrets``) unless ``SUPERVISE_SECRET_KEY`` is set.
* Every form and Dash callback POST carries a CSRF token (Flask-WTF's
  CSRFProtect: a hidden field in our forms, the ``X-CSRFToken`` header that
  Dash's renderer copies from the ``_csrf_token`` cookie), and a POST whose
  Origin is another site's is refused before that.
* Scripts may use HTTP basic on ``/api/*``, under the same throttle; a
  password change is seen at the next request.
* An SSO reverse proxy may name the user in a header (``SUPERVISE_SSO_HEADER``),
  believed only from ``SUPERVISE_TRUSTED_PROXIES`` addresses.
* Every login, failed login, logout, action, video view, export and refusal goes
  to ``audit_log``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, abort, has_request_context, jsonify, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from app import logins, sessions
from app.base import outage
from app.base.tables import audit_log, users, web_secrets
from app.scope import Scope, scope_for

log = logging.getLogger(__name__)
_hasher = logins.hasher

# The cookie Dash's renderer reads the CSRF token from, and the header it sends it back in.
CSRF_COOKIE, CSRF_HEADER = "_csrf_token", "X-CSRFToken"

# Paths anyone may fetch: the login form, health and metrics, static files, the
# JavaScript bundles of Dash (code, not data). Everything else needs a user.
# /api/sms/inbound authenticates the SMS provider with its own bearer token, not a login.
PUBLIC_PREFIXES = (
    "/login",
    "/healthz",
    "/api/sms/inbound",
    "/metrics",
    "/lang/",
    "/assets/",
    "/_dash-component-suites/",
    "/_favicon.ico",
)
# While the database is down, a session this process confirmed this recently still opens
# pages that answer from cache (the board); see install().load.
OUTAGE_GRACE = 600.0
# Routes no browser posts to (no cookie, no Origin check, no CSRF token): their callers carry a bearer token.
CSRF_EXEMPT = ("/api/sms/inbound",)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def web_option(settings, name: str, default):
    """A web setting: from Settings once it has the field, else from SUPERVISE_<NAME> (transitional)."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get("SUPERVISE_" + name.upper())
    if value is None or value == "":
        return default
    return type(default)(value) if default is not None and not isinstance(value, type(default)) else value


def shared_secret(engine: Engine, now: datetime) -> str:
    """The session-signing secret, created once in the database and shared by every server."""
    with engine.begin() as conn:
        value = conn.execute(select(web_secrets.c.value).where(web_secrets.c.name == "session")).scalar()
        if value:
            return value
    try:
        with engine.begin() as conn:
            conn.execute(insert(web_secrets).values(name="session", value=secrets.token_urlsafe(48), created_at=now))
    except IntegrityError:
        pass  # another server created it first; use theirs
    with engine.begin() as conn:
        return conn.execute(select(web_secrets.c.value).where(web_secrets.c.name == "session")).scalar_one()


@dataclass
class User(UserMixin):
    id: int
    name: str
    role: str
    scope_id: str
    password_hash: str
    session_token: str | None = None  # set for a browser login (app.sessions), None for basic auth and SSO

    def get_id(self) -> str | None:
        # What flask-login keeps in the cookie: the session's token, never the user id.
        return self.session_token


def find_user(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name, users.c.active.is_(True))).mappings().first()
    return User(row["id"], row["name"], row["role"], row["scope_id"], row["password_hash"]) if row else None


class _ShortCache:
    """A few seconds of memory for per-request look-ups (user rows, basic-auth checks)."""

    def __init__(self, ttl: float):
        self.ttl, self._data, self._lock = ttl, {}, threading.Lock()

    def get(self, key):
        with self._lock:
            hit = self._data.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl else None

    def put(self, key, value):
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)


def remote_addr(settings) -> str | None:
    """The client's address: the proxy's X-Forwarded-For only when the proxy is trusted."""
    if not has_request_context():
        return None
    direct = request.remote_addr
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and _trusted(settings, direct):
        return forwarded.split(",")[0].strip()
    return direct


def _trusted(settings, address: str | None) -> bool:
    return _in_networks(address, str(web_option(settings, "trusted_proxies", "")))


def may_read_metrics(settings) -> bool:
    """/metrics: with the bearer token (SUPERVISE_METRICS_TOKEN) from anywhere, without it only from the
    SUPERVISE_METRICS_ALLOW networks. A request relayed by a proxy we do not trust comes from nobody knows
    where, so the allow-list does not apply to it (behind a front on this machine everything would look local)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    relayed = request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")
    if relayed and not _trusted(settings, request.remote_addr):
        return False
    return _in_networks(remote_addr(settings), settings.metrics_allow)


def _in_networks(address: str | None, networks: str) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n.strip(), strict=False) for n in networks.split(",") if n.strip())


def audit(engine: Engine, actor: str, action: str, target: str, detail: dict, at: datetime, addr: str | None) -> None:
    """Append one line to the audit trail (the database refuses to change it later)."""
    with engine.begin() as conn:
        conn.execute(
            insert(audit_log).values(at=at, actor=actor, action=action, target=target, detail=detail, remote_addr=addr)
        )


def install(server: Flask, services) -> LoginManager:
    """Log-in routes, the guard in front of every route, CSRF protection, and the user loader."""
    from app.i18n import current_lang, t
    from layouts.login import login_html

    engine, settings, clock = services.engine, services.settings, services.clock
    manager = LoginManager(server)
    lifetime = timedelta(hours=settings.session_hours)
    policy = logins.Policy.from_settings(settings)
    checks = logins.PasswordChecks(settings.login_hash_concurrency)
    # Basic auth checks a script's password once a minute, not on every call: keyed by the
    # password hash too, so a changed password misses at once. The key is this process's own.
    basic_cache, basic_key = _ShortCache(60.0), secrets.token_bytes(32)
    last_confirmed: dict[str, tuple[float, User]] = {}  # session token -> (monotonic, user) last read from the database

    @manager.user_loader
    def load(token: str):
        try:
            found = sessions.user_of(engine, token, clock(), lifetime)
        except Exception as error:
            # The database is down: a session this process confirmed lately stays good, so
            # pages with cached answers still answer (actions need the database anyway). A
            # session ended elsewhere just before the outage is honoured here at most
            # OUTAGE_GRACE after this process last confirmed it.
            confirmed = last_confirmed.get(token)
            if not outage.transient(error) or confirmed is None or time.monotonic() - confirmed[0] > OUTAGE_GRACE:
                raise
            return confirmed[1]
        if not found:
            last_confirmed.pop(token, None)
            return None
        user = User(found.id, found.name, found.role, found.scope_id, found.password_hash, token)
        if len(last_confirmed) > 10_000:
            last_confirmed.clear()
        last_confirmed[token] = (time.monotonic(), user)
        return user

    @manager.request_loader
    def from_request(req):
        sso_header = web_option(settings, "sso_header", "")
        if sso_header and req.headers.get(sso_header) and _trusted(settings, req.remote_addr):
            return find_user(engine, req.headers[sso_header].strip())
        if req.authorization and req.authorization.type == "basic" and req.path.startswith("/api/"):
            return basic_user(req.authorization.username or "", req.authorization.password or "")
        return None

    def basic_user(name: str, password: str) -> User | None:
        user = find_user(engine, name)
        key = (
            user
            and hmac.new(
                basic_key, f"{user.id}\x00{user.password_hash}\x00{password}".encode(), hashlib.sha256
            ).hexdigest()
        )
        if key and basic_cache.get(key):
            return user
        ok, _ = attempt(name, password, user, "basic")
        if ok:
            basic_cache.put(key, True)
        return user if ok else None

    def attempt(name: str, password: str, user: User | None, via: str) -> tuple[bool, dict]:
        """One password try, throttled and audited: (matched, why not)."""
        addr, now = remote_addr(settings) or "?", clock()
        until = logins.locked_until(engine, name, addr, now, policy)
        if until is not None:
            audit(engine, name or "?", "login_failed", "", {"via": via, "reason": "locked"}, now, addr)
            return False, {"problem": "locked", "seconds": max(1, math.ceil((until - now).total_seconds()))}
        try:
            matched = checks.verify(user.password_hash if user else None, password)
        except logins.Busy:
            return False, {"problem": "busy", "seconds": 5}
        if matched:
            logins.forget_failures(engine, name)
            return True, {}
        logins.record_failure(engine, name, addr, now, policy)
        audit(
            engine,
            name or "?",
            "login_failed",
            "",
            {"via": via, "reason": "password" if user else "unknown_name"},
            now,
            addr,
        )
        return False, {"problem": "failed"}

    @server.before_request
    def require_login():
        path = request.path
        if path == "/" and "kiosk" in request.args and not current_user.is_authenticated:
            return redirect("/login?next=" + _quote_next(request.full_path))
        if any(path.startswith(p) for p in PUBLIC_PREFIXES) or current_user.is_authenticated:
            return None
        if path.startswith(("/api/", "/_dash-", "/video/", "/pdf/", "/evidence/")):
            return jsonify(error=t("api.unauthorized", current_lang())), 401
        return redirect("/login?next=" + _quote_next(request.full_path.rstrip("?")))

    @server.before_request
    def same_origin():
        # A browser names the page a POST comes from; another site's is refused before any token is read.
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path in CSRF_EXEMPT:
            return None
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return jsonify(error=t("csrf.failed", current_lang())), 403
        return None

    server.config.update(
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_HEADERS=[CSRF_HEADER],
    )
    csrf = CSRFProtect(server)
    server.extensions["supervise.csrf"] = csrf

    @server.errorhandler(CSRFError)
    def csrf_refused(_error):
        lang = current_lang()
        if request.path == "/login":
            return login_html(lang, "expired", _safe_next(request.values.get("next", "/")), generate_csrf()), 400
        return jsonify(error=t("csrf.failed", lang)), 400

    @server.after_request
    def csrf_cookie(response):
        # Dash's renderer copies this cookie into the X-CSRFToken header of every callback it posts.
        if request.method == "GET" and response.mimetype == "text/html" and current_user.is_authenticated:
            response.set_cookie(
                CSRF_COOKIE,
                generate_csrf(),
                samesite="Strict",
                httponly=False,
                secure=bool(server.config.get("SESSION_COOKIE_SECURE")),
            )
        return response

    @server.route("/login", methods=["GET", "POST"])
    def login_page():
        lang = current_lang()
        target = _safe_next(request.values.get("next", "/"))
        if request.method == "GET":
            return login_html(lang, None, target, generate_csrf())
        name = (request.form.get("name") or "").strip()
        user = find_user(engine, name)
        matched, why = attempt(name, request.form.get("password") or "", user, "password")
        if matched:
            now, addr = clock(), remote_addr(settings)
            token = sessions.start(engine, user.id, now, lifetime, addr)
            session.clear()  # a new session, and with it a new CSRF token: nothing carries over from before
            login_user(replace(user, session_token=token))
            audit(engine, user.name, "login", "", {"via": "password"}, now, addr)
            return redirect(target)
        status = {"failed": 401, "locked": 429, "busy": 503}[why["problem"]]
        minutes = math.ceil(why.get("seconds", 0) / 60)
        headers = {"Retry-After": str(why["seconds"])} if "seconds" in why else {}
        return login_html(lang, why["problem"], target, generate_csrf(), minutes=minutes), status, headers

    @server.route("/logout", methods=["POST"])
    def logout_page():
        if current_user.is_authenticated:
            if current_user.session_token:
                sessions.end(engine, current_user.session_token)
            audit(engine, current_user.name, "logout", "", {}, clock(), remote_addr(settings))
        logout_user()
        session.clear()
        response = redirect("/login")
        response.delete_cookie(CSRF_COOKIE)
        return response

    return manager


def exempt_from_csrf(server: Flask, blueprint) -> None:
    """A route that authenticates by its own bearer token, never by a cookie (the SMS provider's)."""
    server.extensions["supervise.csrf"].exempt(blueprint)


def _quote_next(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="")


def _safe_next(target: str) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not (parts.path or "/").startswith("/") or target.startswith("//"):
        return "/"
    return target


def current_scope(services) -> Scope:
    """The scope of the logged-in user; a request without one is refused."""
    if not current_user.is_authenticated:
        abort(401)
    return scope_for(current_user.role, current_user.scope_id, services.reference.get())


def actor_name() -> str:
    return current_user.name if current_user.is_authenticated else "?"
