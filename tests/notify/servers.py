"""Real local servers standing in for the services notifications go to: an HTTP server for
the WeCom and DingTalk robots and webhooks (they are external, we can't reach them), and
aiosmtpd, a real SMTP server with STARTTLS and login."""

from __future__ import annotations

import json
import queue
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Request:
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Robot:
    """Records every request; answers from `replies` (status, JSON body, seconds to hang) or 200 errcode 0."""

    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    replies: queue.Queue = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_robot() -> Robot:
    robot: Robot

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urllib.parse.urlsplit(self.path)
            robot.requests.append(
                Request(parts.path, dict(urllib.parse.parse_qsl(parts.query)), dict(self.headers), body)
            )
            try:
                status, answer, hang = robot.replies.get_nowait()
            except queue.Empty:
                status, answer, hang = 200, {"errcode": 0, "errmsg": "ok"}, 0
            time.sleep(hang)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    robot = Robot(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return robot


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "smtp.pem", folder / "smtp.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class Mailbox:
    """What the SMTP server received, and who logged in."""

    def __init__(self):
        self.messages: list = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def start_smtp(folder: Path, user: str, password: str):
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and login; (controller, mailbox, cert path)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        if ok:
            mailbox.logins.append(user)
        return AuthResult(success=ok)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    return controller, mailbox, cert
