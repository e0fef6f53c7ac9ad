"""Gateways that deliver an SMS: the HTTP provider, or a JSON-lines file for the demo.

Idempotency: every message carries its outbox id as a client message id
(``sms-<id>``). A gateway never delivers one id twice, so the sender may always
send again when it does not know whether an earlier attempt got through (a
crash between "sent" and "marked", a lost HTTP response):

* the **file** gateway holds an exclusive lock on its file, reads the ids it
  already holds and appends only an id it does not have;
* the **HTTP** gateway sends the id as ``client_message_id`` and as the
  ``Idempotency-Key`` header. The provider must de-duplicate on it (every
  mainstream SMS API does, under one name or another) and answer a repeat
  with success or 409; both count as delivered.

Errors say whether trying again can help: :class:`TemporaryFailure` (network,
timeouts, 5xx, 429, the provider refusing our credentials) or
:class:`PermanentFailure` (the provider refuses this message: 400, 422 …).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from app.sms.phones import mask_phone, mask_phones_in

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: str  # the idempotency key, 'sms-<outbox id>'
    phone: str
    text: str


@dataclass(frozen=True, slots=True)
class Delivery:
    gateway: str
    ref: str | None = None  # the provider's own id for the message
    duplicate: bool = False  # the gateway already had this id: nothing new went out
    sent_at: datetime | None = None  # when it first went out, if the gateway knows


class GatewayError(Exception):
    retry_after: float | None = None


class TemporaryFailure(GatewayError):
    """Trying again later may succeed."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(GatewayError):
    """The gateway refuses this message; trying again would not help."""


class Gateway(Protocol):
    name: str

    def send(self, message: Outgoing, now: datetime) -> Delivery: ...


def outgoing_id(outbox_id: int) -> str:
    return f"sms-{outbox_id}"


# --- file -------------------------------------------------------------------


class FileGateway:
    """Appends one JSON object per message to a file (``var/sms-outbox.jsonl``).

    The file plays the provider: it holds the full number, so it is created
    readable by its owner only. Several senders may share it.
    """

    name = "file"

    def __init__(self, path: Path):
        self.path = Path(path)
        self._known: dict[str, str] = {}  # message_id -> sent_at, of lines read so far
        self._offset = 0

    def send(self, message: Outgoing, now: datetime) -> Delivery:
        try:
            return self._send(message, now)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write {self.path}: {exc}") from exc

    def _send(self, message: Outgoing, now: datetime) -> Delivery:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            _lock(handle)
            self._catch_up(handle)
            if message.message_id in self._known:
                return Delivery(
                    self.name,
                    message.message_id,
                    duplicate=True,
                    sent_at=_parse_instant(self._known[message.message_id]),
                )
            line = {
                "v": 1,
                "message_id": message.message_id,
                "phone": message.phone,
                "text": message.text,
                "sent_at": now.isoformat(),
            }
            data = json.dumps(line, ensure_ascii=False).encode() + b"\n"
            handle.seek(0, os.SEEK_END)
            if handle.tell() and not self._ends_with_newline(handle):
                data = b"\n" + data  # a line torn by a crash stays unreadable on its own
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            self._offset = handle.tell()
            self._known[message.message_id] = line["sent_at"]
        log.info("sms %s to %s written to %s", message.message_id, mask_phone(message.phone), self.path)
        return Delivery(self.name, message.message_id, sent_at=now)

    def _catch_up(self, handle) -> None:
        """Read the lines appended since last time (by this or any other process)."""
        size = os.fstat(handle.fileno()).st_size
        if size < self._offset:  # replaced or truncated: read it again from the start
            self._known.clear()
            self._offset = 0
        handle.seek(self._offset)
        chunk = handle.read(size - self._offset)
        complete = chunk.rfind(b"\n") + 1
        for raw in chunk[:complete].splitlines():
            try:
                entry = json.loads(raw)
                self._known[str(entry["message_id"])] = str(entry.get("sent_at") or "")
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line: its message counts as not sent
        self._offset += complete

    @staticmethod
    def _ends_with_newline(handle) -> bool:
        handle.seek(-1, os.SEEK_END)
        ends = handle.read(1) == b"\n"
        handle.seek(0, os.SEEK_END)
        return ends

    def lines(self) -> list[dict]:
        """Every readable line (for tests and the demo)."""
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_bytes().splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
        return out


def _lock(handle) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one sender per file
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes


def _parse_instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# --- HTTP -------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The bearer token must never follow a redirect to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


PERMANENT_STATUSES = {400, 404, 405, 410, 413, 414, 415, 422}


class HttpGateway:
    """POSTs ``{client_message_id, phone, text}`` as JSON to the provider, with a bearer token.

    2xx is delivered (its JSON body may name the provider's ``message_id``);
    409 means the provider already has this client id: delivered before.
    """

    name = "http"

    def __init__(self, url: str, token: str | None, timeout: float):
        self.url = url
        self.token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, message: Outgoing, now: datetime) -> Delivery:
        body = json.dumps(
            {"client_message_id": message.message_id, "phone": message.phone, "text": message.text}, ensure_ascii=False
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.message_id,
            "Accept": "application/json",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                reply = response.read(65536)
                status = response.status
        except urllib.error.HTTPError as exc:
            return self._refused(exc, message)
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TemporaryFailure(f"provider unreachable: {reason}") from exc
        ref, duplicate = _provider_ref(reply)
        log.info(
            "sms %s to %s accepted by the provider (HTTP %s, ref %s)",
            message.message_id,
            mask_phone(message.phone),
            status,
            ref,
        )
        return Delivery(self.name, ref or message.message_id, duplicate=duplicate)

    def _refused(self, exc: urllib.error.HTTPError, message: Outgoing) -> Delivery:
        status = exc.code
        try:
            detail = exc.read(2000).decode("utf-8", "replace").strip()
        except OSError:
            detail = ""
        finally:
            exc.close()
        if status == 409:
            ref, _ = _provider_ref(detail.encode())
            return Delivery(self.name, ref or message.message_id, duplicate=True)
        text = f"provider answered HTTP {status}" + (f": {mask_phones_in(detail[:300])}" if detail else "")
        if status in PERMANENT_STATUSES:
            raise PermanentFailure(text)
        raise TemporaryFailure(text, _retry_after(exc.headers.get("Retry-After") if exc.headers else None))


def _provider_ref(reply: bytes) -> tuple[str | None, bool]:
    try:
        body = json.loads(reply or b"null")
    except ValueError:
        return None, False
    if not isinstance(body, dict):
        return None, False
    ref = body.get("message_id") or body.get("id")
    return (str(ref) if ref is not None else None), bool(body.get("duplicate"))


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def make_gateway(sms_settings, var_dir: Path) -> Gateway:
    """The configured gateway (SUPERVISE_SMS_GATEWAY)."""
    if sms_settings.gateway == "http":
        token = sms_settings.http_token.get_secret_value() if sms_settings.http_token else None
        return HttpGateway(sms_settings.http_url, token, sms_settings.http_timeout)
    return FileGateway(sms_settings.outbox_file(var_dir))
