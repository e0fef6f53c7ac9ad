"""A process rides out a Redis outage: one log line when it starts and one when it ends, a
gauge, calls that fail at once while a retry is not due, and a hang detected by the
socket timeout (app/base/messaging.py), against the real Redis behind tests/faultproxy.py."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import redis as redis_lib

from app.base import messaging, metrics
from tests.faultproxy import FaultProxy


@pytest.fixture
def proxied(redis_url):
    with FaultProxy("127.0.0.1", 6379) as proxy:
        yield proxy, redis_url.replace(":6379", f":{proxy.port}")


def outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.base.messaging"]


def hammer(client, seconds: float) -> list[float]:
    """Call Redis as a busy web server would for `seconds`; how long each failed call took."""
    failed = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            client.get("k")
        except redis_lib.RedisError:
            failed.append(time.monotonic() - started)
        time.sleep(0.01)
    return failed


@pytest.mark.parametrize("fault", ["cut", "hang"])
def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(proxied, fault, caplog):
    proxy, url = proxied
    caplog.set_level(logging.WARNING, logger="app.base.messaging")
    client = messaging.connect_url(url, socket_timeout=1.0)
    other = messaging.connect_url(url, socket_timeout=1.0)  # another client of the process: same link
    assert client.link is other.link
    client.set("k", "v")
    getattr(proxy, fault)()
    failed = hammer(client, 3.0)
    assert len(failed) > 20 and metrics.redis_up._value.get() == 0
    # Only the tries wait (for the socket timeout, in a hang); every other call fails at once.
    slow = [t for t in failed if t > 0.1]
    assert len(slow) <= 4 and all(t < 2.5 for t in failed)
    with pytest.raises(redis_lib.ConnectionError):
        other.get("k")
    proxy.heal()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            assert client.get("k") == b"v"
            break
        except redis_lib.RedisError:
            time.sleep(0.1)
    assert other.get("k") == b"v" and metrics.redis_up._value.get() == 1
    lines = outage_lines(caplog)
    assert len(lines) == 2, lines
    assert "unreachable" in lines[0] and "reachable again" in lines[1]
    assert "@" not in lines[0] or ":***@" in lines[0]  # never a password


def test_a_pipeline_is_guarded_like_single_calls(proxied, caplog):
    proxy, url = proxied
    caplog.set_level(logging.WARNING, logger="app.base.messaging")
    client = messaging.connect_url(url, socket_timeout=1.0)
    proxy.cut()
    for _ in range(20):
        with pytest.raises(redis_lib.RedisError):
            client.pipeline(transaction=False).get("a").get("b").execute()
    assert len(outage_lines(caplog)) == 1


def test_sockets_have_timeouts_and_keepalive(redis_url):
    client = messaging.connect_url(redis_url)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == messaging.SOCKET_TIMEOUT
    assert kwargs["socket_keepalive"] and kwargs["socket_keepalive_options"][socket.TCP_KEEPIDLE] == 10
    client.ping()
    sock = client.connection_pool._available_connections[0]._sock
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
