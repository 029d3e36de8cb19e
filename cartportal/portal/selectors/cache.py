"""Rollups are kept between requests until new data arrives.

A rollup depends only on the region scope it was computed for and on the data. The key therefore holds
the scope and a watermark: the highest id of every table the rollups read (imports only append, so a new
row moves the watermark at once). Changes to existing rows (an order cancelled later) reach the pages
within ROLLUP_TTL seconds. Reading the watermark costs one index look-up per table.
"""

from __future__ import annotations

import functools
import hashlib

from django.core.cache import cache
from django.db import connection

from . import scoped_region_ids

ROLLUP_TTL = 300
TABLES = ("cartevent", "order", "orderline", "session", "product", "surveyresponse", "customer")


def watermark() -> str:
    parts = ", ".join(f"(SELECT max(id) FROM cartportal_{t})" for t in TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return ":".join(str(v) for v in cursor.fetchone())


def _key(name: str, ids: list[int] | None) -> str:
    scope = "all" if ids is None else ",".join(str(i) for i in sorted(ids))
    digest = hashlib.sha1(f"{scope}|{watermark()}".encode()).hexdigest()
    return f"portal-rollup:{name}:{digest}"


def rollup(func):
    """Cache a selector `(user, region_ids)` by the scope it resolves to and the data watermark."""

    @functools.wraps(func)
    def wrapper(user, region_ids: list[int] | None = None):
        ids = scoped_region_ids(user, region_ids)
        key = _key(func.__qualname__, ids)
        value = cache.get(key)
        if value is None:
            value = func(user, region_ids)
            cache.set(key, value, ROLLUP_TTL)
        return value

    wrapper.uncached = func
    return wrapper
