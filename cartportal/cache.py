"""The shared cache (Redis) and the counters kept in it.

`RedisCache` is Django's Redis backend with one client object per connection pool. Django's backend builds a new
`redis.Redis` for every cache call, and redis-py's constructor sets up its table of response callbacks each time
(about 0.4 ms of pure Python per call on a 2-core machine, more than the round trip it precedes). A client is
thread-safe and takes a connection from its pool per command, so one per pool serves every thread of a process; the
pool itself notices a fork and reconnects.

`hit` counts an event in a fixed time window with one round trip (INCR, EXPIRE and the previous window's count
pipelined), which the API's rate throttle builds its sliding estimate on.

`Generation` stamps kept entries: an entry is valid while the generation it was built in is current, and a change
that could alter any of them bumps the generation (the partner API's resolved principals, the customer list's totals).
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.db import transaction


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


def _window_key(key: str, window: int) -> str:
    return f"{key}:{window}"


def hit(key: str, window: int, seconds: int) -> tuple[int, int]:
    """Count one event under `key` in time window number `window` (each `seconds` long); returns the window's count
    including this event and the previous window's count. Atomic across processes on Redis (one round trip)."""
    return read_and_hit(None, key, window, seconds)[1]


def read_and_hit(read_key: str | None, key: str | None, window: int, seconds: int) -> tuple[object, tuple | None]:
    """(the value under `read_key`, or None when no key is given; the counts of `hit(key, window, seconds)`, or None
    when no `key` is given), in one round trip on Redis: the partner API reads its access generation and counts the
    request against the token's rate together."""
    if key is None:
        return (cache.get(read_key) if read_key is not None else None), None
    current_key, previous_key = _window_key(key, window), _window_key(key, window - 1)
    lifetime = 2 * seconds + 1  # the window itself and the next one, which reads it as its previous
    raw = getattr(cache, "_cache", None)
    if not isinstance(raw, DjangoRedisCacheClient):
        # Any other backend (a per-process memory cache when no CACHE_URL is set): the same counts via the cache API.
        value = cache.get(read_key) if read_key is not None else None
        if cache.add(current_key, 1, lifetime):
            current = 1
        else:
            try:
                current = cache.incr(current_key)
            except ValueError:  # expired between add and incr
                cache.set(current_key, 1, lifetime)
                current = 1
        return value, (int(current), int(cache.get(previous_key) or 0))
    current_key = cache.make_and_validate_key(current_key)
    pipeline = raw.get_client(current_key, write=True).pipeline(transaction=False)
    if read_key is not None:
        pipeline.get(cache.make_and_validate_key(read_key))
    pipeline.incr(current_key)
    pipeline.expire(current_key, lifetime)
    pipeline.get(cache.make_and_validate_key(previous_key))
    results = pipeline.execute()
    value = results[0] if read_key is not None else None
    current, _, previous = results[-3:]
    return (None if value is None else raw._serializer.loads(value)), (int(current), int(previous or 0))


def unhit(key: str, window: int) -> None:
    """Take back one event counted by `hit` in the same window."""
    try:
        cache.decr(_window_key(key, window))
    except ValueError:  # the window's count has expired: nothing to take back
        pass


class Generation:
    """A generation kept in the shared cache under `key`, to stamp entries with (see the module's docstring)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def read(self, entry_key: str) -> tuple[str | None, object]:
        """(the current generation or None, the entry under `entry_key` or None), in one round trip."""
        found = cache.get_many([self.key, entry_key])
        return found.get(self.key), found.get(entry_key)

    def current(self) -> str:
        """The current generation, started if there is none (concurrent first callers agree on one: add())."""
        generation = cache.get(self.key)
        if generation is None:
            cache.add(self.key, uuid.uuid4().hex, timeout=None)
            generation = cache.get(self.key)
        return generation

    def bump(self, **kwargs) -> None:
        """Make every stamped entry stale: now, and again once the surrounding transaction commits (a reader running
        between the two may have kept the state before the commit). Usable as a signal receiver."""
        self._new()
        transaction.on_commit(self._new)

    def _new(self) -> None:
        cache.set(self.key, uuid.uuid4().hex, timeout=None)
