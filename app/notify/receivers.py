"""Receivers: each channel's wire format, limits and errors.

* ``sms``: the SMS gateway of app/sms (file or HTTP), message id ``notify-<id>`` (de-duplicated);
* ``wecom``: 企业微信 group robot webhook, ``{"msgtype": "markdown"|"text", …}``; answer
  ``{"errcode": 0}``; errcode 45009 is its rate limit (20 a minute per robot);
* ``dingtalk``: 钉钉 custom robot, signed: ``timestamp`` (ms) and ``sign`` =
  urlencode(base64(HMAC-SHA256(secret, timestamp + "\\n" + secret))) in the URL;
  errcode 130101 (too fast) backs off;
* ``email``: SMTP with STARTTLS and login; a plain-text and an HTML part;
* ``webhook``: Alertmanager's webhook JSON (version 4), ``Idempotency-Key: notify-<id>``.

Secrets (robot keys, signing secret, SMTP password) never reach a log line or an error:
a URL is shown without its query, errors are the provider's code and message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from app.sms.gateway import GatewayError, Outgoing, PermanentFailure, TemporaryFailure
from rules.routing import Receiver

log = logging.getLogger("notify")

ROBOT_PER_MINUTE = 20
TIMEOUT = 10.0
PERMANENT_STATUSES = {400, 401, 403, 404, 405, 410, 413, 414, 415, 422}
WECOM_RATE_LIMITED = 45009
DINGTALK_TOO_FAST = 130101
DINGTALK_BACK_OFF = 60.0


def shown_url(url: str) -> str:
    """A URL as a log line may show it: the robot's key lives in the query, so the query goes."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post_json(url: str, body: str, timeout: float, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        exc.close()
        text = f"{shown_url(url)} answered HTTP {exc.code}" + (f": {detail}" if detail else "")
        if exc.code in PERMANENT_STATUSES:
            raise PermanentFailure(text) from None
        retry = exc.headers.get("Retry-After") if exc.headers else None
        raise TemporaryFailure(text, float(retry) if retry and retry.isdigit() else None) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise TemporaryFailure(f"{shown_url(url)} unreachable: {getattr(exc, 'reason', exc)}") from None


def _errcode(url: str, reply: bytes) -> tuple[int, str]:
    try:
        answer = json.loads(reply or b"{}")
        return int(answer.get("errcode", 0)), str(answer.get("errmsg", ""))
    except (ValueError, TypeError, AttributeError):
        raise TemporaryFailure(f"{shown_url(url)} answered something that is not its JSON") from None


class Sender:
    """Sends one claimed notification through its receiver; raises GatewayError on failure.
    Returns the provider's answer, kept on the notification."""

    def __init__(self, sms_gateway=None, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)):
        self.sms_gateway = sms_gateway
        self.clock_ms = clock_ms

    def send(self, receiver: Receiver, notification_id: int, target: str, text: str, now: datetime) -> str:
        method = getattr(self, f"_{receiver.type}")
        return method(receiver, notification_id, target, text, now)

    def _sms(self, receiver, notification_id, target, text, now) -> str:
        if self.sms_gateway is None:
            raise PermanentFailure("no SMS gateway configured")
        delivery = self.sms_gateway.send(Outgoing(f"notify-{notification_id}", target, text), now)
        return f"{delivery.gateway} {delivery.ref or ''}{' (already had it)' if delivery.duplicate else ''}".strip()

    def _wecom(self, receiver, notification_id, target, text, now) -> str:
        url = str(receiver.settings["url"])
        status, reply = _post_json(url, text, float(receiver.settings.get("timeout", TIMEOUT)))
        code, message = _errcode(url, reply)
        if code == WECOM_RATE_LIMITED:
            raise TemporaryFailure(f"WeCom robot rate limit (errcode {code}: {message})", 60.0)
        if code != 0:
            raise PermanentFailure(f"WeCom robot refused: errcode {code}: {message}")
        return f"HTTP {status} errcode 0"

    def _dingtalk(self, receiver, notification_id, target, text, now) -> str:
        base = str(receiver.settings["url"])
        stamp = self.clock_ms()
        sign = dingtalk_sign(str(receiver.settings["secret"]), stamp)
        url = f"{base}{'&' if '?' in base else '?'}timestamp={stamp}&sign={sign}"
        status, reply = _post_json(url, text, float(receiver.settings.get("timeout", TIMEOUT)))
        code, message = _errcode(base, reply)
        if code == DINGTALK_TOO_FAST:
            raise TemporaryFailure(f"DingTalk robot: too fast (errcode {code}: {message})", DINGTALK_BACK_OFF)
        if code != 0:
            raise PermanentFailure(f"DingTalk robot refused: errcode {code}: {message}")
        return f"HTTP {status} errcode 0"

    def _webhook(self, receiver, notification_id, target, text, now) -> str:
        url = str(receiver.settings["url"])
        status, _reply = _post_json(
            url,
            text,
            float(receiver.settings.get("timeout", TIMEOUT)),
            {"Idempotency-Key": f"notify-{notification_id}"},
        )
        return f"HTTP {status}"

    def _email(self, receiver, notification_id, target, text, now) -> str:
        settings = receiver.settings
        parts = json.loads(text)
        mail = EmailMessage()
        mail["Subject"] = parts["subject"]
        mail["From"] = str(settings["sender"])
        mail["To"] = target
        mail["Message-ID"] = make_msgid(f"notify-{notification_id}", "supervise")
        mail.set_content(parts["plain"])
        mail.add_alternative(parts["html"], subtype="html")
        host, port = str(settings["host"]), int(settings.get("port", 587))
        timeout = float(settings.get("timeout", TIMEOUT))
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as smtp:
                if settings.get("starttls", True):
                    context = (
                        ssl.create_default_context(cafile=settings.get("cafile"))
                        if settings.get("cafile")
                        else ssl.create_default_context()
                    )
                    smtp.starttls(context=context)
                if settings.get("username"):
                    smtp.login(str(settings["username"]), str(settings.get("password", "")))
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(f"SMTP {host}:{port} refused the login ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused:
            raise PermanentFailure(f"SMTP {host}:{port} refused the recipient") from None
        except smtplib.SMTPResponseException as exc:
            failure = PermanentFailure if 500 <= exc.smtp_code < 600 else TemporaryFailure
            raise failure(f"SMTP {host}:{port} answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise TemporaryFailure(f"SMTP {host}:{port} unreachable: {type(exc).__name__}: {exc}") from None
        if refused:
            raise PermanentFailure(f"SMTP {host}:{port} refused the recipient")
        return f"SMTP {host}:{port} 250"


class RateLimit:
    """A token bucket per receiver: `per_minute` messages a minute, at most that many at once."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._tokens: dict[str, tuple[float, float]] = {}  # receiver -> (tokens, at monotonic seconds)

    def take(self, receiver: str, at: float) -> float:
        """0 if a message may go now (a token is taken), else the seconds until one may."""
        tokens, last = self._tokens.get(receiver, (float(self.per_minute), at))
        tokens = min(float(self.per_minute), tokens + (at - last) * self.per_minute / 60.0)
        if tokens >= 1.0:
            self._tokens[receiver] = (tokens - 1.0, at)
            return 0.0
        self._tokens[receiver] = (tokens, at)
        return (1.0 - tokens) * 60.0 / self.per_minute


__all__ = ["GatewayError", "RateLimit", "Sender", "dingtalk_sign", "shown_url"]
