"""Sessions end on the server, logins are throttled and cost the same for unknown
names, and every POST carries a CSRF token. Two apps on one database play two web
processes: what one ends, the other refuses at its next request."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.base.tables import audit_log, web_login_failures, web_sessions
from tests.web.conftest import NOW, PASSWORD, csrf_headers, dash_call, form_token, login


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_app(region, clock):
    from app.web import create_app

    def make(**changes):
        settings = region.settings.model_copy(update=changes)
        return create_app(settings, clock, engine=region.engine, background=False)

    return make


@pytest.fixture
def app(make_app):
    return make_app()


def try_login(client, name: str, password: str, addr: str = "127.0.0.1"):
    return client.post(
        "/login",
        data={"name": name, "password": password, "next": "/", "csrf_token": form_token(client)},
        environ_base={"REMOTE_ADDR": addr},
    )


def replay(app, client):
    """Another browser (or another web process) presenting the same session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def audited(region, action: str) -> list[dict]:
    with region.engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(audit_log.c.actor, audit_log.c.detail)
                .where(audit_log.c.action == action)
                .order_by(audit_log.c.id)
            ).mappings()
        ]


def basic(name: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


# --- sessions ----------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(app, region):
    client = login(app.test_client(), region.users["region"])
    copy = replay(app, client)
    assert copy.get("/api/alarms").status_code == 200
    response = client.post("/logout", data={"csrf_token": form_token(client, "/login")})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert copy.get("/api/alarms").status_code == 401  # the cookie stayed valid for 12 h before
    with region.engine.connect() as conn:
        assert conn.execute(select(web_sessions)).all() == []
    assert [a["actor"] for a in audited(region, "logout")] == [region.users["region"]]


def test_logout_is_a_post_with_the_token(app, region):
    client = login(app.test_client(), region.users["region"])
    client.get("/logout")  # a link or an <img> elsewhere logged you out before; now it is just a page
    assert client.get("/api/alarms").status_code == 200
    assert client.post("/logout").status_code == 400  # no token: another site cannot log you out
    assert client.get("/api/alarms").status_code == 200


def test_the_shell_logs_out_with_a_form(app, region):
    client = login(app.test_client(), region.users["region"])
    form = find(client.get("/_dash-layout").json, "shell-logout-form")
    assert (form["action"], form["method"]) == ("/logout", "POST")
    token = find(form, "shell-logout-token")
    assert token["name"] == "csrf_token" and token["type"] == "hidden"
    assert client.post("/logout", data={"csrf_token": token["value"]}).status_code == 302
    assert client.get("/api/alarms").status_code == 401


def find(node, component_id: str):
    """The props of the component with `component_id` in a Dash layout (JSON)."""
    if isinstance(node, dict):
        props = node.get("props", node)
        if props.get("id") == component_id:
            return props
        children = props.get("children")
        return find(children, component_id) if children is not None else None
    if isinstance(node, list):
        return next((hit for child in node if (hit := find(child, component_id)) is not None), None)
    return None


@pytest.mark.parametrize("change", ["password", "role", "scope", "removed"])
def test_a_changed_user_is_logged_out_in_every_process(make_app, region, change):
    from app.users import add_user, remove_user

    first, second = make_app(), make_app()
    name = region.users["center"]
    client = login(first.test_client(), name)
    elsewhere = replay(second, client)
    assert client.get("/api/alarms").status_code == 200 and elsewhere.get("/api/alarms").status_code == 200
    if change == "removed":
        remove_user(region.engine, name)
    else:
        add_user(
            region.engine,
            name,
            "a new password 2" if change == "password" else PASSWORD,
            "city" if change == "role" else "center",
            "GX-450103" if change == "scope" else "GX-450102",
            NOW,
        )
    assert client.get("/api/alarms").status_code == 401
    assert elsewhere.get("/api/alarms").status_code == 401


def test_a_session_ends_when_unused(app, region, clock):
    client = login(app.test_client(), region.users["region"])
    for _ in range(3):  # in use: every request moves the end on, so a wall screen stays logged in
        clock.now += timedelta(hours=11)
        assert client.get("/api/alarms").status_code == 200
    clock.now += timedelta(hours=12, seconds=1)
    assert client.get("/api/alarms").status_code == 401


def test_login_starts_a_new_session(app, region):
    client = app.test_client()
    form_token(client)
    before = client.get_cookie("session").value
    login(client, region.users["region"])
    assert client.get_cookie("session").value != before
    with region.engine.connect() as conn:
        stored = conn.execute(select(web_sessions.c.token_hash)).scalars().all()
    assert len(stored) == 1 and stored[0] not in client.get_cookie("session").value  # only a digest is stored


# --- throttling --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["region-user", "nobody-at-all"])  # a lock tells nothing about who exists
def test_a_name_is_locked_after_five_failures(app, region, clock, name):
    client = app.test_client()
    for _ in range(5):
        assert try_login(client, name, "wrong guess").status_code == 401
    locked = try_login(client, name, PASSWORD)
    assert locked.status_code == 429 and "15 分钟后再试" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) == 15 * 60
    assert try_login(client, "city-user", PASSWORD).status_code == 302  # another name is not locked
    clock.now += timedelta(minutes=15, seconds=1)
    assert try_login(app.test_client(), "region-user", PASSWORD).status_code == 302
    reasons = [a["detail"]["reason"] for a in audited(region, "login_failed")]
    expected = "password" if name == "region-user" else "unknown_name"
    assert reasons == [expected] * 5 + ["locked"]


def test_an_address_is_locked_across_names_and_processes(make_app, region):
    first, second = make_app(login_addr_failures=3), make_app(login_addr_failures=3)
    for name in ("a", "b", "c"):
        assert try_login(first.test_client(), name, "guess", addr="192.0.2.7").status_code == 401
    assert try_login(second.test_client(), "region-user", PASSWORD, addr="192.0.2.7").status_code == 429
    assert try_login(second.test_client(), "region-user", PASSWORD, addr="192.0.2.8").status_code == 302


def test_success_clears_the_name_and_old_failures_are_swept(app, region, clock):
    client = app.test_client()
    for _ in range(4):
        try_login(client, "region-user", "guess")
    login(app.test_client(), "region-user")
    for _ in range(4):  # the count started again
        assert try_login(client, "region-user", "guess").status_code == 401
    clock.now += timedelta(hours=1)
    try_login(client, "x", "guess")
    with region.engine.connect() as conn:
        assert conn.execute(select(web_login_failures.c.name)).scalars().all() == ["x"]


def test_basic_auth_sees_a_password_change_at_once_and_is_throttled(app, region):
    from app.users import add_user

    client = app.test_client()
    name = region.users["center"]
    assert client.get("/api/alarms", headers=basic(name, PASSWORD)).status_code == 200
    add_user(region.engine, name, "a new password 2", "center", "GX-450102", NOW)
    assert client.get("/api/alarms", headers=basic(name, PASSWORD)).status_code == 401  # worked 60 s more before
    assert client.get("/api/alarms", headers=basic(name, "a new password 2")).status_code == 200
    for _ in range(5):
        assert client.get("/api/alarms", headers=basic("region-user", "guess")).status_code == 401
    assert client.get("/api/alarms", headers=basic("region-user", PASSWORD)).status_code == 401  # locked
    assert [a["detail"] for a in audited(region, "login_failed")][-1] == {"via": "basic", "reason": "locked"}


# --- what a check costs ------------------------------------------------------------------------


class CountingHasher:
    """The real argon2 hasher, counting the checks and how many ran at once."""

    def __init__(self, real):
        self.real, self.lock = real, threading.Lock()
        self.verified, self.running, self.most = 0, 0, 0

    def hash(self, password):
        return self.real.hash(password)

    def verify(self, password_hash, password):
        with self.lock:
            self.verified += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.real.verify(password_hash, password)
        finally:
            with self.lock:
                self.running -= 1


def test_an_unknown_name_is_checked_against_a_hash_too(app, monkeypatch):
    from app import logins

    counting = CountingHasher(logins.hasher)
    monkeypatch.setattr(logins, "hasher", counting)
    assert try_login(app.test_client(), "nobody-at-all", "guess").status_code == 401
    assert try_login(app.test_client(), "region-user", "guess").status_code == 401
    assert counting.verified == 2  # answered in 3 ms against 127 ms before: a way to list the users


def test_password_checks_run_two_at_a_time():
    from app import logins

    counting = CountingHasher(logins.hasher)
    checks = logins.PasswordChecks(2)
    stored = logins.hasher.hash("right")
    original, logins.hasher = logins.hasher, counting
    try:
        threads = [threading.Thread(target=checks.verify, args=(stored, "wrong")) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    finally:
        logins.hasher = original
    assert counting.verified == 8 and counting.most == 2


def test_a_check_that_waits_too_long_is_told_to_come_back(monkeypatch):
    from app import logins

    monkeypatch.setattr(logins, "HASH_WAIT_SECONDS", 0.05)
    checks = logins.PasswordChecks(1)
    checks._slots.acquire()  # the one slot is taken
    with pytest.raises(logins.Busy):
        checks.verify(None, "guess")


# --- CSRF --------------------------------------------------------------------------------------


def test_the_login_form_needs_its_token(app, region):
    client = app.test_client()
    response = client.post("/login", data={"name": "region-user", "password": PASSWORD, "next": "/"})
    assert response.status_code == 400 and "已过期" in response.get_data(as_text=True)
    assert 'name="csrf_token"' in response.get_data(as_text=True)  # the form comes back, ready to send again
    assert audited(region, "login") == []


def test_dash_callbacks_need_the_token(app, region):
    client = login(app.test_client(), region.users["region"])
    body = {
        "output": "control-room-detail.children",
        "outputs": {"id": "control-room-detail", "property": "children"},
        "inputs": [
            {"id": "control-room-selected", "property": "data", "value": region.alarm_ids["GX-450102:MZ"][0]},
            {"id": "control-room-acted", "property": "data", "value": 0},
        ],
        "state": [],
        "changedPropIds": ["control-room-selected.data"],
    }
    assert client.post("/_dash-update-component", json=body).status_code == 400
    assert client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "forged"}).status_code == 400
    assert client.post("/_dash-update-component", json=body, headers=csrf_headers(client)).status_code == 200
    cookie = client.get_cookie("_csrf_token")
    assert not cookie.http_only and cookie.same_site == "Strict"  # Dash's renderer must read it


def test_a_post_from_another_site_is_refused(app, region):
    client = login(app.test_client(), region.users["region"])
    response = dash_call(
        client,
        [("control-room-detail", "children")],
        [("control-room-selected", "data", 1), ("control-room-acted", "data", 0)],
    )
    assert response.status_code == 200
    headers = {**csrf_headers(client), "Origin": "https://evil.example"}
    assert client.post("/_dash-update-component", json={}, headers=headers).status_code == 403
    assert client.post("/login", data={}, headers={"Origin": "null"}).status_code == 403
