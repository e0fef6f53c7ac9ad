"""A TCP proxy that tests put between a client and a real server to cut or hang the link.

The faults a production day brings, played against the real PostgreSQL and Redis:

* ``cut()``: every open connection is reset and new ones are reset as soon as they
  connect, as when a server restarts or a firewall drops the route;
* ``hang()``: connections stay open (new ones are accepted too) but not one byte
  moves either way, as when a server or the network stalls; a client without a
  timeout waits forever;
* ``heal()``: back to passing bytes through. Connections held during a hang carry
  on where they stopped; connections reset by a cut stay gone.

One thread serves every connection with a selector, so a test can run several
proxies cheaply. Use it as a context manager::

    with FaultProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.cut(); time.sleep(60); proxy.heal()
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time

PASS, CUT, HANG = "pass", "cut", "hang"
_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close `sock` with a TCP RST (linger 0), which clients see as 'connection reset'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    """Listens on 127.0.0.1:`port` (0: any free port) and forwards to `host`:`target_port`."""

    def __init__(self, host: str, target_port: int, port: int = 0):
        self.target = (host, target_port)
        self.state = PASS
        self._listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._pairs: dict[socket.socket, socket.socket] = {}  # each end -> the other end
        self._held: list[socket.socket] = []  # accepted during a hang, connected when healed
        self._paused: set[socket.socket] = set()  # ends not read during a hang
        self._applied = PASS  # the state the serving thread has put in place
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name=f"faultproxy:{self.port}", daemon=True)
        self.connections = 0  # accepted so far, for tests that check a client reconnected

    # --- what tests call -------------------------------------------------
    def start(self) -> FaultProxy:
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread.start()
        return self

    def cut(self) -> None:
        self._set(CUT)

    def hang(self) -> None:
        self._set(HANG)

    def heal(self) -> None:
        self._set(PASS)

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        self._thread.join(timeout=5)
        for sock in list(self._pairs) + self._held:
            sock.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the serving thread ---------------------------------------------
    def _set(self, state: str) -> None:
        """Switch to `state` and return once the serving thread has put it in place."""
        with self._lock:
            self.state = state
        self._wake()
        deadline = time.monotonic() + 5
        while self._applied != state and time.monotonic() < deadline:
            time.sleep(0.005)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._stopping:
            for key, _mask in self._selector.select(timeout=0.5):
                if key.data == "wake":
                    self._wake_r.recv(4096)
                elif key.data == "accept":
                    self._accept()
                else:
                    self._forward(key.fileobj)
            with self._lock:
                state = self.state
            if state != self._applied:
                self._apply(state)
                self._applied = state

    def _apply(self, state: str) -> None:
        if state == CUT:
            for sock in list(self._pairs):
                self._drop(sock)
            for sock in self._held:
                _reset(sock)
            self._held.clear()
            self._paused.clear()
        elif state == HANG:
            for sock in self._pairs:
                if sock not in self._paused:
                    self._selector.unregister(sock)
                    self._paused.add(sock)
        else:  # PASS after a hang: forward again, and connect what was accepted meanwhile
            for sock in self._paused:
                self._selector.register(sock, selectors.EVENT_READ, "data")
            self._paused.clear()
            held, self._held = self._held, []
            for client in held:
                self._connect(client)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        self.connections += 1
        if self._applied == CUT:
            _reset(client)
        elif self._applied == HANG:
            self._held.append(client)
        else:
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        for sock in (client, server):
            sock.setblocking(True)
            sock.settimeout(5)
        self._pairs[client], self._pairs[server] = server, client
        self._selector.register(client, selectors.EVENT_READ, "data")
        self._selector.register(server, selectors.EVENT_READ, "data")

    def _forward(self, sock: socket.socket) -> None:
        other = self._pairs.get(sock)
        if other is None:
            return
        try:
            data = sock.recv(_CHUNK)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        other = self._pairs.pop(sock, None)
        for end in (sock, other):
            if end is None:
                continue
            self._pairs.pop(end, None)
            self._paused.discard(end)
            try:
                self._selector.unregister(end)
            except (KeyError, ValueError):
                pass
            _reset(end)
