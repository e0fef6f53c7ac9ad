"""The Redis connection every component shares, and how a process rides out a Redis outage.

With ``SUPERVISE_REDIS_URL`` set this is a real Redis, shared by every process
and machine. Unset, it is one in-process fakeredis server, shared by every
thread of this process (the embedded default: ``supervise demo`` runs all
components in one process). Code never branches on which one it got.

Redis is never the truth (the supervision database is), so a Redis outage is
a normal day: callers catch ``redis.RedisError`` and carry on without it. Every
client of one Redis in a process shares one :class:`Link`, which

* logs one line when the outage starts and one when it ends (never one per
  failed call), and keeps the ``supervise_redis_up`` gauge;
* after a failure makes calls fail at once (``redis.ConnectionError``) until a
  back-off has passed, then lets one call through to try again: during a hang
  only that one call waits for the socket timeout, not every request of a web
  server.

Sockets have read and connect timeouts and TCP keepalive, and a failed call
is retried once on a fresh connection (a stale pooled one) but never after a
timeout, so a hung Redis becomes a detected outage within SOCKET_TIMEOUT.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry
from sqlalchemy.engine import make_url

from app.base import metrics
from app.base.settings import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_embedded_server = None
_links: dict[str, Link] = {}

# Every network call has a timeout: a hung Redis must not hang a worker.
SOCKET_TIMEOUT = 5.0
KEEPALIVE = {socket.TCP_KEEPIDLE: 10, socket.TCP_KEEPINTVL: 5, socket.TCP_KEEPCNT: 3}
RETRY_FIRST, RETRY_MAX = 0.5, 10.0  # seconds between tries while Redis is down, doubling
PROBE_SECONDS = 3 * SOCKET_TIMEOUT  # a try that never reported back (its thread died) no longer blocks the next


def connect(settings: Settings, *, decode_responses: bool = False) -> redis.Redis:
    """A Redis client for the configured URL, or for the process's embedded stand-in."""
    if settings.redis_url:
        return connect_url(settings.redis_url, decode_responses=decode_responses)
    import fakeredis

    global _embedded_server
    with _lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_embedded_server, decode_responses=decode_responses)


def connect_url(url: str, *, decode_responses: bool = False, socket_timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
    """A client of the Redis at `url` guarded by the process's :class:`Link` to it."""
    client = GuardedRedis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        socket_keepalive=True,
        socket_keepalive_options=KEEPALIVE,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )
    client.link = link_for(url)
    return client


def link_for(url: str) -> Link:
    """The one Link of this process to the Redis at `url`."""
    shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
    with _lock:
        if shown not in _links:
            _links[shown] = Link(shown)
        return _links[shown]


def link_of(client) -> Link | None:
    """The Link guarding `client`, or None for the embedded stand-in (which cannot fail)."""
    return getattr(client, "link", None)


class Link:
    """The state of this process's link to one Redis: up, or down since when and when to try again."""

    def __init__(self, name: str, clock=time.monotonic):
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._delay = RETRY_FIRST
        self._probing_since: float | None = None
        metrics.redis_up.set(1)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def admit(self) -> None:
        """Raise redis.ConnectionError at once while Redis is known down and no try is due."""
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            now = self._clock()
            probing = self._probing_since is not None and now - self._probing_since < PROBE_SECONDS
            if probing or now < self._retry_at:
                raise redis.ConnectionError(
                    f"Redis at {self.name} is unreachable (for {now - self.down_since:.0f} s); "
                    f"trying again in {max(self._retry_at - now, 0):.1f} s"
                )
            self._probing_since = now  # this call is the try; the others keep failing fast meanwhile

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            now = self._clock()
            if self.down_since is None:
                self.down_since, self._delay = now, RETRY_FIRST
                log.warning(
                    "Redis at %s is unreachable (%s: %s); carrying on without it and retrying with back-off",
                    self.name,
                    type(exc).__name__,
                    exc,
                )
                metrics.redis_up.set(0)
                metrics.redis_outages_total.inc()
            else:
                self._delay = min(self._delay * 2, RETRY_MAX)
            self._retry_at = now + self._delay
            self._probing_since = None

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is not None:
                log.warning("Redis at %s is reachable again after %.0f s", self.name, self._clock() - self.down_since)
                self.down_since = None
                self._probing_since = None
                metrics.redis_up.set(1)


_LINK_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class GuardedRedis(redis.Redis):
    """redis.Redis whose every call reports to its Link, and fails at once while the Link says to wait."""

    link: Link

    def execute_command(self, *args, **options):
        self.link.admit()
        try:
            result = super().execute_command(*args, **options)
        except _LINK_ERRORS as exc:
            self.link.failed(exc)
            raise
        except redis.RedisError:
            self.link.succeeded()  # an error reply is an answer: the link works
            raise
        self.link.succeeded()
        return result

    def pipeline(self, transaction: bool = True, shard_hint=None) -> Pipeline:
        pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.link = self.link
        return pipe


class GuardedPipeline(Pipeline):
    link: Link

    def execute(self, raise_on_error: bool = True):
        if not self.command_stack:
            return super().execute(raise_on_error)
        self.link.admit()
        try:
            result = super().execute(raise_on_error)
        except _LINK_ERRORS as exc:
            self.link.failed(exc)
            raise
        self.link.succeeded()
        return result
