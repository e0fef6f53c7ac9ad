"""The inbound route inside the real dashboard: create_app registers it, and its
path is exempt from the login guard (the provider authenticates with its token)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app import auth
from app.base.database import open_database
from app.base.settings import Settings, SmsSettings
from app.sms.gateway import FileGateway
from app.sms.routes import PATH, register
from app.sms.sender import Sender

from ..ingest.exchange_builder import Exchange
from .conftest import CST, add_case, local

NOW = local("2026-11-27 12:00")
TOKEN = "web-token"
REPLY = {"message_id": "M1", "phone": "13812341234", "text": "95", "received_at": "2026-11-27T11:00:00+08:00"}


@pytest.fixture
def dashboard(tmp_path, sms_settings, monkeypatch):
    from app.web import create_app

    monkeypatch.setenv("SUPERVISE_SMS_TOKEN", TOKEN)
    settings = Settings(var_dir=tmp_path)
    Exchange(settings.exchange_url_resolved)
    engine = open_database(settings)
    add_case(engine, "C1", local("2026-11-27 09:00"))
    Sender(engine, FileGateway(tmp_path / "sms.jsonl"), sms_settings, CST).run_once(local("2026-11-27 10:00"))
    return create_app(settings, lambda: NOW, engine=engine, background=False)


def test_inbound_works_inside_the_dashboard_without_a_login(dashboard):
    client = dashboard.test_client()
    response = client.post(PATH, json=REPLY, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.json["outcome"] == "rated"
    assert client.post(PATH, json=REPLY).status_code == 401  # the exemption is from the login, not the token


def test_the_exemption_covers_the_inbound_path_only(dashboard):
    assert any(PATH.startswith(prefix) for prefix in auth.PUBLIC_PREFIXES)
    response = dashboard.test_client().get("/api/alarms", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code in (302, 401)  # the SMS token opens nothing else


def test_register_takes_services_or_an_engine(db):
    from flask import Flask

    services = SimpleNamespace(engine=db, zone=CST, clock=lambda: NOW)
    app = Flask("x")
    register(app, services, sms_settings=SmsSettings(token=TOKEN))
    assert app.extensions["supervise.sms"].clock() == NOW
    assert PATH in {rule.rule for rule in app.url_map.iter_rules()}
