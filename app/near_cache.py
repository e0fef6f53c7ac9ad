"""The dashboard's cache: Redis, shared by every web process, with the entries that never
change kept a little while in this process as well (a near cache).

A board answer is named by everything it depends on (scope digest, change marker,
time bucket, what the screen shows), and a drawn board by its scope, marker and
bucket: once written, the value under such a name is the value for good. So a
process that has one need not fetch its ~90 KB from Redis again, and unpickle it,
for each session of that scope it serves. Entries that are overwritten in place
(a board's version, KPI reports) always go to Redis.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask_caching.backends.rediscache import RedisCache

# Only names whose value never changes once written (app/callbacks/control_room.py).
IMMUTABLE_PREFIXES = ("board-reply:", "board:")
KEPT = 32  # entries: a few scopes' latest boards and answers, a few MB
KEPT_SECONDS = 30.0  # memory is given back even when nothing new pushes an entry out


class NearRedisCache(RedisCache):
    """RedisCache that also remembers its immutable entries in process memory (LRU, KEPT of them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._near: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._near_lock = threading.Lock()

    def get(self, key: str):
        immutable = key.startswith(IMMUTABLE_PREFIXES)
        if immutable:
            with self._near_lock:
                hit = self._near.get(key)
                if hit is not None and time.monotonic() - hit[0] < KEPT_SECONDS:
                    self._near.move_to_end(key)
                    return hit[1]
        value = super().get(key)
        if immutable and value is not None:
            self._keep(key, value)
        return value

    def set(self, key: str, value, timeout=None):
        if key.startswith(IMMUTABLE_PREFIXES):
            self._keep(key, value)
        return super().set(key, value, timeout)

    def _keep(self, key: str, value) -> None:
        with self._near_lock:
            self._near[key] = (time.monotonic(), value)
            self._near.move_to_end(key)
            while len(self._near) > KEPT:
                self._near.popitem(last=False)
