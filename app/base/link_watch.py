"""A PostgreSQL link that stops answering is cut, so that a hang becomes an outage.

``statement_timeout`` ends a statement the server is slow with, and TCP
keepalives end a link whose far end is gone. Neither ends a link whose far end
still takes packets but answers nothing: a server that stalls (its disk hangs,
its virtual machine is paused) or a middlebox that holds the connection. A
client waits on such a link forever, with no log line.

So one thread per process (``db.link-watch``) looks, once a second, at every
PostgreSQL link the process opened. A link that sent a request and has received
nothing since, for longer than its limit, is shut down: the statement waiting on
it fails at once with a connection error, which its caller takes for the start
of an outage. The limit is the statement timeout plus a margin, since a server
that is alive answers a statement it cancels with an error; work allowed to run
longer (:func:`allow`) gets its own limit.

The kernel keeps the instants a socket last sent and last received data
(``TCP_INFO``), so watching costs nothing on the links themselves. A link is
waiting while it sent after it last received, and while the driver has a
command in progress: a hang can stop an answer half way, after its first rows
came in. Linux only;
elsewhere, and on Unix-domain sockets, links are not watched.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
import weakref

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between looks
MARGIN = 5.0  # seconds beyond the statement timeout before a silent link is taken for dead
# struct tcp_info (linux/tcp.h): 8 one-byte fields, 9 u32, then tcpi_last_data_sent,
# tcpi_last_ack_sent, tcpi_last_data_recv: milliseconds since.
_LAST_DATA_SENT, _LAST_DATA_RECV = 44, 52
_TCP_INFO_SIZE = 104
_ACTIVE = 1  # libpq's PQTRANS_ACTIVE: a command is in progress


class _Link:
    __slots__ = ("connection", "database", "limit", "allowed")

    def __init__(self, connection, database: str, limit: float):
        self.connection = weakref.ref(connection)
        self.database, self.limit = database, limit
        self.allowed: float | None = None  # a longer limit while allow() is in force


_links: dict[int, _Link] = {}
_lock = threading.Lock()
_thread: threading.Thread | None = None
_cut: dict[str, tuple[float, float]] = {}  # database -> (monotonic instant of the last cut, silence then)


def watch(connection, database: str, statement_timeout: float) -> None:
    """Watch a psycopg connection of `database`: cut it after `statement_timeout` + MARGIN of silence."""
    if not hasattr(socket, "TCP_INFO"):
        return
    global _thread
    with _lock:
        _links[id(connection)] = _Link(connection, database, statement_timeout + MARGIN)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="db.link-watch", daemon=True)
            _thread.start()


def allow(connection, seconds: float | None) -> None:
    """Let `connection` wait `seconds` (+ MARGIN) for an answer from now on; None: back to its limit."""
    link = _links.get(id(connection))
    if link is not None:
        link.allowed = None if seconds is None else seconds + MARGIN


def cut_lately(database: str, within: float = 2.0) -> float | None:
    """The silence (seconds) after which a link of `database` was cut in the last `within` seconds."""
    at, silence = _cut.get(database, (0.0, 0.0))
    return silence if time.monotonic() - at <= within else None


def _run() -> None:
    while True:
        time.sleep(TICK)
        with _lock:
            links = list(_links.items())
        for key, link in links:
            try:
                _look(key, link)
            except Exception:
                log.debug("cannot look at a database link", exc_info=True)


def _look(key: int, link: _Link) -> None:
    connection = link.connection()
    if connection is None or connection.closed:
        with _lock:
            if _links.get(key) is link:
                del _links[key]
        return
    silence = _silence(connection.pgconn.socket, busy=connection.pgconn.transaction_status == _ACTIVE)
    limit = link.allowed or link.limit
    if silence is not None and silence > limit:
        _cut[link.database] = (time.monotonic(), silence)
        # The caller's outage line says why; this one is for whoever reads at info level.
        log.info("the %s database has not answered for %.0f s: cutting the link", link.database, silence)
        _shut(connection.pgconn.socket)


def _silence(fd: int, busy: bool) -> float | None:
    """Seconds nothing has moved either way on the socket while it waits for an answer; None
    when it is not waiting. It waits when it sent after it last received, and while the driver
    has a command in progress (`busy`): an answer that stopped half way came in after the request."""
    with socket.socket(fileno=os.dup(fd)) as sock:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    (sent_ago,) = struct.unpack_from("I", info, _LAST_DATA_SENT)
    (received_ago,) = struct.unpack_from("I", info, _LAST_DATA_RECV)
    if sent_ago < received_ago or busy:
        return min(sent_ago, received_ago) / 1000
    return None


def _shut(fd: int) -> None:
    # Shutting the socket down (not closing the driver's descriptor) wakes the thread
    # waiting on it with an end of file; the driver then closes it as a lost connection.
    with socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


def _forget_after_fork() -> None:
    global _thread, _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    _links.clear()
    _cut.clear()
    _thread = None


os.register_at_fork(after_in_child=_forget_after_fork)
