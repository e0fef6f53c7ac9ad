"""``POST /api/sms/inbound``: the SMS provider delivers applicants' replies here.

Register on the dashboard's Flask server with :func:`register`. The provider
authenticates with ``Authorization: Bearer $SUPERVISE_SMS_TOKEN`` (not a user
login), so the path must be exempt from the dashboard's login guard.

Answers (JSON, never echoing the phone number):

* 200 ``{message_id, outcome, score, duplicate}`` — stored (or stored before:
  a repeat changes nothing and gets the same answer);
* 400 body is not JSON · 401 missing or wrong token · 409 message_id reused
  with a different phone or text · 413 body too large · 415 not JSON ·
  422 a field is missing or wrong (``fields`` says which and why) ·
  503 inbound SMS is not configured (no SUPERVISE_SMS_TOKEN).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import Engine

from app.base.settings import SmsSettings, load_sms
from app.sms import inbound

log = logging.getLogger(__name__)

PATH = "/api/sms/inbound"
EXTENSION = "supervise.sms"
MAX_BODY = 64 * 1024

blueprint = Blueprint("sms", __name__)


@dataclass(frozen=True)
class InboundService:
    engine: Engine
    settings: SmsSettings
    zone: tzinfo
    clock: Callable[[], datetime]


def register(
    server: Flask,
    services_or_engine,
    *,
    sms_settings: SmsSettings | None = None,
    zone: tzinfo | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Serve the inbound route on `server`, with the web app's Services (engine, zone, clock)
    or a bare Engine (then `zone` defaults to SUPERVISE_TZ and the clock to the wall clock)."""
    if isinstance(services_or_engine, Engine):
        engine = services_or_engine
        if zone is None:
            from app.base.settings import load

            zone = load().zone
    else:
        engine = services_or_engine.engine
        zone = zone or services_or_engine.zone
        clock = clock or services_or_engine.clock
    server.extensions[EXTENSION] = InboundService(
        engine, sms_settings or load_sms(), zone, clock or (lambda: datetime.now(UTC))
    )
    server.register_blueprint(blueprint)


def _error(status: int, message: str, **extra):
    response = jsonify(error=message, **extra)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sms"'
    return response


def _authorised(service: InboundService) -> bool:
    expected = service.settings.token.get_secret_value().encode() if service.settings.token else b""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


@blueprint.post(PATH)
def receive_reply():
    service: InboundService = current_app.extensions[EXTENSION]
    if service.settings.token is None:
        return _error(503, "inbound SMS is not configured on this server (SUPERVISE_SMS_TOKEN)")
    if not _authorised(service):
        return _error(401, "missing or wrong bearer token")
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    if not request.is_json:
        return _error(415, "send the message as application/json")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY:
        return _error(413, f"body larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not valid JSON")
    now = service.clock()
    try:
        message = inbound.validate(body, service.zone, now)
        handled = inbound.receive(service.engine, message, service.settings, now)
    except inbound.Invalid as exc:
        return _error(422, "not an inbound SMS", fields=exc.problems)
    except inbound.Conflict as exc:
        return _error(409, str(exc))
    return jsonify(
        message_id=handled.message_id, outcome=handled.outcome, score=handled.score, duplicate=handled.duplicate
    )
