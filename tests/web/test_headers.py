"""Security headers on every answer, private answers never cached, the kiosk framed
only by the origins configured, and /metrics behind a token or an allow-list."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from app.base.settings import Settings
from app.base.tables import evidence
from tests.web.conftest import NOW, login

PORTAL = "https://portal.example.gov.cn"


@pytest.fixture
def make_app(region):
    from app.web import create_app

    def make(**changes):
        return create_app(
            region.settings.model_copy(update=changes), lambda: NOW, engine=region.engine, background=False
        )

    return make


def test_private_answers_are_never_cached(web_app, region):
    client = login(web_app.test_client(), region.users["region"])
    case_no = region.case_nos["GX-450102:MZ"][0]
    with region.engine.connect() as conn:
        still = conn.execute(select(evidence.c.id)).scalars().first()
    for path in (
        "/",
        "/login",
        "/_dash-layout",
        "/api/alarms",
        "/api/kpi",
        f"/api/cases/{case_no}",
        f"/pdf/case/{case_no}.pdf",
        f"/evidence/{still}.jpg",
        "/video/GX-450102:MZ:CAM/snapshot.jpg",
        "/healthz",
        "/metrics",
        "/no-such-page",
    ):
        response = client.get(path)
        assert response.status_code < 500, path
        assert response.headers["Cache-Control"] == "private, no-store", path  # stills were public, max-age=3600
        assert "Expires" not in response.headers, path
    static = client.get("/assets/supervise.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def test_security_headers(web_app, region):
    client = login(web_app.test_client(), region.users["region"])
    for path in ("/", "/login", "/api/alarms", "/assets/supervise.css"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert headers["X-Frame-Options"] == "DENY", path
        policy = dict(d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", path
        scripts = policy["script-src"].split()
        assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:]), path
        assert "unsafe-eval" not in policy["script-src"] and "unsafe-inline" not in policy["script-src"]
    assert "Strict-Transport-Security" not in client.get("/").headers  # plain HTTP here


def test_the_dash_inline_scripts_are_those_hashed(web_app, region):
    import base64
    import hashlib
    import re

    client = login(web_app.test_client(), region.users["region"])
    response = client.get("/")
    page = response.get_data(as_text=True)
    inline = [
        m
        for m in re.findall(r"<script(?: [^>]*)?>(.*?)</script>", page, re.S)
        if m.strip() and '"url_base_pathname"' not in m and "alert(" not in m
    ]
    assert len(inline) >= 4  # the renderer's start and the clientside callbacks
    policy = response.headers["Content-Security-Policy"]
    for script in inline:
        assert "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'" in policy


def test_only_the_kiosk_may_be_framed_and_only_by_the_portal(make_app, region):
    app = make_app(kiosk_frame_ancestors=PORTAL)
    client = login(app.test_client(), region.users["region"])
    kiosk = client.get("/?kiosk").headers
    assert f"frame-ancestors {PORTAL}" in kiosk["Content-Security-Policy"] and "X-Frame-Options" not in kiosk
    way_in = app.test_client().get("/login?next=/%3Fkiosk").headers
    assert f"frame-ancestors {PORTAL}" in way_in["Content-Security-Policy"]
    for path in ("/", "/case", "/login"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    unset = login(make_app().test_client(), region.users["region"]).get("/?kiosk").headers
    assert "frame-ancestors 'none'" in unset["Content-Security-Policy"]


@pytest.mark.parametrize(
    "value",
    [
        "https://portal.example.gov.cn; script-src *",  # would have written a directive of its own
        "portal.example.gov.cn",
        "'unsafe-inline'",
        "javascript:alert(1)",
    ],
)
def test_frame_ancestors_must_be_origins(value):
    with pytest.raises(ValidationError, match="kiosk_frame_ancestors"):
        Settings(kiosk_frame_ancestors=value)


def test_hsts_behind_tls(make_app):
    assert make_app(cookie_secure=True).test_client().get("/login").headers["Strict-Transport-Security"]


@pytest.mark.parametrize(
    "changes,peer,headers,allowed",
    [
        ({}, "127.0.0.1", {}, True),  # a Prometheus on this machine
        ({}, "192.0.2.5", {}, False),  # was public
        ({"metrics_token": SecretStr("s3cret-token")}, "192.0.2.5", {"Authorization": "Bearer s3cret-token"}, True),
        ({"metrics_token": SecretStr("s3cret-token")}, "192.0.2.5", {"Authorization": "Bearer guess"}, False),
        ({}, "192.0.2.5", {"Authorization": "Bearer "}, False),  # no token set: no empty token opens it
        # A front on this machine relays every client from 127.0.0.1: not local unless the front is trusted...
        ({}, "127.0.0.1", {"X-Forwarded-For": "192.0.2.5"}, False),
        # ...and then the client it names is what counts.
        ({"trusted_proxies": "127.0.0.1"}, "127.0.0.1", {"X-Forwarded-For": "192.0.2.5"}, False),
        ({"trusted_proxies": "127.0.0.1"}, "127.0.0.1", {"X-Forwarded-For": "127.0.0.1"}, True),
        ({"metrics_allow": "192.0.2.0/24"}, "192.0.2.5", {}, True),
    ],
)
def test_metrics_need_a_token_or_an_allowed_address(make_app, changes, peer, headers, allowed):
    response = make_app(**changes).test_client().get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert response.status_code == (200 if allowed else 401)
    assert ("supervise_web_requests_total" in response.get_data(as_text=True)) is allowed
