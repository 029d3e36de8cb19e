"""Results that are slow to compute, kept in the shared cache and in PostgreSQL.

The shared cache (Redis) holds the portal's rollups and a published run's at-risk lists between requests, but it is
memory: after a restart of the cache server (or of the whole machine) every one of them would be computed again in
the first request that needs it, which takes seconds to tens of seconds on a shop of a million customers. So each
is also written to a table (`KeptResult`, pickled as the cache keeps it, with its expiry); a read that misses the
cache looks there, and puts what it finds back into the cache. A read that hits the cache costs what it did.
"""

from __future__ import annotations

import datetime as dt
import pickle

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

_MISSING = object()
PRUNE_EVERY_SECONDS = 300  # expired rows are removed by a write at most this often (across processes)


def get(key: str, default=None):
    """The value kept under `key` (the cache first, then the table), or `default`."""
    value = cache.get(key, _MISSING)
    if value is not _MISSING:
        return value
    from cartportal.models import KeptResult

    now = timezone.now()
    row = KeptResult.objects.filter(key=key, expires_at__gt=now).values_list("value", "expires_at").first()
    if row is None:
        return default
    try:
        value = pickle.loads(bytes(row[0]))
    except Exception:  # written by another version of the code: as good as missing
        return default
    cache.set(key, value, max(1, int((row[1] - now).total_seconds())))
    return value


def put(key: str, value, seconds: int) -> None:
    """Keep `value` under `key` for `seconds`, in the cache and in the table."""
    from cartportal.models import KeptResult

    cache.set(key, value, seconds)
    now = timezone.now()
    expires_at = now + dt.timedelta(seconds=seconds)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {KeptResult._meta.db_table} (key, value, expires_at, updated_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, "
            "updated_at = EXCLUDED.updated_at",
            [key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL), expires_at, now],
        )
        # results nobody will read again (a superseded run's lists) go once expired, by one write now and then
        if cache.add("cp:kept-pruned", 1, PRUNE_EVERY_SECONDS):
            cursor.execute(f"DELETE FROM {KeptResult._meta.db_table} WHERE expires_at < %s", [now])


def get_or_set(key: str, compute, seconds: int):
    """The value kept under `key`, else `compute()` kept for `seconds`."""
    value = get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        put(key, value, seconds)
    return value
