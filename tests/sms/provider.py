"""A real local HTTP server playing the SMS provider: it checks the bearer token,
de-duplicates on client_message_id, and can be told to fail, stall or refuse."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Provider:
    def __init__(self, token: str = "provider-secret"):
        self.token = token
        self.delivered: dict[str, dict] = {}  # client_message_id -> body: what reached phones
        self.requests: list[dict] = []
        self.fail_next: list[int] = []  # statuses to answer before accepting again
        self.stall_seconds = 0.0
        self.lose_response_once = False  # accept, then drop the connection without answering
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="test.sms-provider", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/sms"

    def __enter__(self) -> Provider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append({"body": body, "headers": dict(self.headers)})
                if self.headers.get("Authorization") != f"Bearer {provider.token}":
                    return self._answer(401, {"error": "bad token"})
                if provider.stall_seconds:
                    time.sleep(provider.stall_seconds)
                if provider.fail_next:
                    return self._answer(provider.fail_next.pop(0), {"error": "try later"})
                key = body["client_message_id"]
                if key in provider.delivered:
                    return self._answer(409, {"message_id": f"P-{key}", "error": "duplicate"})
                provider.delivered[key] = body
                if provider.lose_response_once:
                    provider.lose_response_once = False
                    self.close_connection = True
                    self.connection.close()
                    return None
                return self._answer(200, {"message_id": f"P-{key}"})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "120")
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

        return Handler
