"""The dashboard's cache: Redis, shared by every web process, with the entries that never
change kept a little while in this process as well (a near cache).

A board answer is named by everything it depends on (scope digest, change marker,
time bucket, what the screen shows), and a drawn board by its scope, marker and
bucket: once written, the value under such a name is the value for good. So a
process that has one need not fetch its ~90 KB from Redis again, and unpickle it,
for each session of that scope it serves. Entries that are overwritten in place
(a board's version, KPI reports) always go to Redis.

A cache is never the truth: while Redis is unreachable every read is a miss
and every write is dropped, so the pages work from the database alone. Its
client is guarded by the process's link to Redis (app/base/messaging.py), which
logs the outage once and makes calls fail at once until it is time to try
again, so a hung Redis costs one timeout, not one per request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import redis
from flask_caching.backends.rediscache import RedisCache

from app.base.messaging import connect_url

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

    @classmethod
    def factory(cls, app, config, args, kwargs):
        options = config.pop("CACHE_OPTIONS", None) or {}
        kwargs.update(host=connect_url(config["CACHE_REDIS_URL"], **options), key_prefix=config.get("CACHE_KEY_PREFIX"))
        return cls(*args, **kwargs)

    def get(self, key: str):
        immutable = key.startswith(IMMUTABLE_PREFIXES)
        if immutable:
            with self._near_lock:
                hit = self._near.get(key)
                if hit is not None and time.monotonic() - hit[0] < KEPT_SECONDS:
                    self._near.move_to_end(key)
                    return hit[1]
        try:
            value = super().get(key)
        except redis.RedisError:
            return None
        if immutable and value is not None:
            self._keep(key, value)
        return value

    def set(self, key: str, value, timeout=None):
        if key.startswith(IMMUTABLE_PREFIXES):
            self._keep(key, value)
        try:
            return super().set(key, value, timeout)
        except redis.RedisError:
            return False

    # The other operations, alike: a miss, or nothing done.
    def get_many(self, *keys):
        try:
            return super().get_many(*keys)
        except redis.RedisError:
            return [None] * len(keys)

    def add(self, key, value, timeout=None):
        try:
            return super().add(key, value, timeout)
        except redis.RedisError:
            return False

    def set_many(self, mapping, timeout=None):
        try:
            return super().set_many(mapping, timeout)
        except redis.RedisError:
            return []

    def delete(self, key):
        try:
            return super().delete(key)
        except redis.RedisError:
            return False

    def delete_many(self, *keys):
        try:
            return super().delete_many(*keys)
        except redis.RedisError:
            return []

    def has(self, key):
        try:
            return super().has(key)
        except redis.RedisError:
            return False

    def inc(self, key, delta=1):
        try:
            return super().inc(key, delta)
        except redis.RedisError:
            return None

    def dec(self, key, delta=1):
        try:
            return super().dec(key, delta)
        except redis.RedisError:
            return None

    def _keep(self, key: str, value) -> None:
        with self._near_lock:
            self._near[key] = (time.monotonic(), value)
            self._near.move_to_end(key)
            while len(self._near) > KEPT:
                self._near.popitem(last=False)
