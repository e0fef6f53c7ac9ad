"""Logging in, who is asking, and the audit trail of what they did.

* Passwords are argon2id hashes (``users.password_hash``).
* Sessions are Flask's signed cookies, signed with a secret every server shares
  through the database (``web_secrets``) unless ``SUPERVISE_SECRET_KEY`` is set,
  so a login survives any one server restarting or a load balancer switching.
* Scripts may use HTTP basic on ``/api/*``.
* An SSO reverse proxy may name the user in a header (``SUPERVISE_SSO_HEADER``),
  believed only from ``SUPERVISE_TRUSTED_PROXIES`` addresses.
* Every login, action, video view, export and refusal goes to ``audit_log``.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, abort, has_request_context, jsonify, redirect, request
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from app.scope import Scope, scope_for
from app.tables import audit_log, users, web_secrets

log = logging.getLogger(__name__)
_hasher = PasswordHasher()

# Paths anyone may fetch: the login form, health and metrics, static files, the
# JavaScript bundles of Dash (code, not data). Everything else needs a user.
# /api/sms/inbound authenticates the SMS provider with its own bearer token, not a login.
PUBLIC_PREFIXES = ("/login", "/healthz", "/api/sms/inbound", "/metrics", "/lang/", "/assets/", "/_dash-component-suites/", "/_favicon.ico")


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

    def get_id(self) -> str:
        # A password change ends the sessions signed for the old one.
        return f"{self.id}.{hashlib.sha256(self.password_hash.encode()).hexdigest()[:12]}"


def find_user(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name, users.c.active.is_(True))).mappings().first()
    return User(row["id"], row["name"], row["role"], row["scope_id"], row["password_hash"]) if row else None


def _user_by_id(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id, users.c.active.is_(True))).mappings().first()
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
    if not address:
        return False
    networks = [n.strip() for n in str(web_option(settings, "trusted_proxies", "")).split(",") if n.strip()]
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError:
        return False


def audit(engine: Engine, actor: str, action: str, target: str, detail: dict, at: datetime, addr: str | None) -> None:
    """Append one line to the audit trail (the database refuses to change it later)."""
    with engine.begin() as conn:
        conn.execute(insert(audit_log).values(at=at, actor=actor, action=action, target=target,
                                              detail=detail, remote_addr=addr))


def install(server: Flask, services) -> LoginManager:
    """Log-in routes, the guard in front of every route, and the user loader."""
    engine, settings, clock = services.engine, services.settings, services.clock
    manager = LoginManager(server)
    users_cache, basic_cache = _ShortCache(5.0), _ShortCache(60.0)

    @manager.user_loader
    def load(user_id: str):
        cached = users_cache.get(user_id)
        if cached is not None:
            return cached or None
        number, _, fingerprint = user_id.partition(".")
        user = _user_by_id(engine, int(number)) if number.isdigit() else None
        if user is not None and user.get_id() != user_id:
            user = None
        users_cache.put(user_id, user or False)
        return user

    @manager.request_loader
    def from_request(req):
        sso_header = web_option(settings, "sso_header", "")
        if sso_header and req.headers.get(sso_header) and _trusted(settings, req.remote_addr):
            return find_user(engine, req.headers[sso_header].strip())
        if req.authorization and req.authorization.type == "basic" and req.path.startswith("/api/"):
            name, password = req.authorization.username or "", req.authorization.password or ""
            key = hashlib.sha256(f"{name}\x00{password}".encode()).hexdigest()
            hit = basic_cache.get(key)
            if hit is not None:
                return hit or None
            user = find_user(engine, name)
            ok = user if user and verify_password(user.password_hash, password) else None
            basic_cache.put(key, ok or False)
            return ok
        return None

    @server.before_request
    def require_login():
        path = request.path
        if path == "/" and "kiosk" in request.args and not current_user.is_authenticated:
            return redirect("/login?next=" + _quote_next(request.full_path))
        if any(path.startswith(p) for p in PUBLIC_PREFIXES) or current_user.is_authenticated:
            return None
        from app.i18n import current_lang, t

        if path.startswith(("/api/", "/_dash-", "/video/", "/pdf/", "/evidence/")):
            return jsonify(error=t("api.unauthorized", current_lang())), 401
        return redirect("/login?next=" + _quote_next(request.full_path.rstrip("?")))

    @server.route("/login", methods=["GET", "POST"])
    def login_page():
        from app.i18n import current_lang
        from layouts.login import login_html

        lang = current_lang()
        failed = False
        target = _safe_next(request.values.get("next", "/"))
        if request.method == "POST":
            name = (request.form.get("name") or "").strip()
            user = find_user(engine, name)
            if user and verify_password(user.password_hash, request.form.get("password") or ""):
                login_user(user)
                audit(engine, user.name, "login", "", {"via": "password"}, clock(), remote_addr(settings))
                return redirect(target)
            failed = True
            audit(engine, name or "?", "login_failed", "", {}, clock(), remote_addr(settings))
        return login_html(lang, failed, target), (401 if failed else 200)

    @server.route("/logout")
    def logout_page():
        if current_user.is_authenticated:
            audit(engine, current_user.name, "logout", "", {}, clock(), remote_addr(settings))
        logout_user()
        return redirect("/login")

    return manager


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
