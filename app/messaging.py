"""The Redis connection every component shares.

With ``SUPERVISE_REDIS_URL`` set this is a real Redis, shared by every process
and machine. Unset, it is one in-process fakeredis server, shared by every
thread of this process (the embedded default: ``supervise demo`` runs all
components in one process). Code never branches on which one it got.
"""
from __future__ import annotations

import threading

import redis

from app.settings import Settings

_lock = threading.Lock()
_embedded_server = None

# Every network call has a timeout: a hung Redis must not hang a worker.
SOCKET_TIMEOUT = 5.0


def connect(settings: Settings, *, decode_responses: bool = False) -> redis.Redis:
    """A Redis client for the configured URL, or for the process's embedded stand-in."""
    if settings.redis_url:
        return redis.Redis.from_url(
            settings.redis_url,
            decode_responses=decode_responses,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
        )
    import fakeredis

    global _embedded_server
    with _lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_embedded_server, decode_responses=decode_responses)
