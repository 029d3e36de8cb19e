"""Rollups are kept between requests and refreshed when new data arrives, without making a page wait.

A rollup depends only on the region scope it was computed for and on the data. Each cached rollup carries
the data watermark it was computed at: the highest id of every table the rollups read (imports only append,
so a new row moves the watermark at once), and when the latest scoring run was published. Reading the watermark
costs one index look-up per table.

When the watermark has moved (or the rollup is older than ROLLUP_TTL, for changes to existing rows):
- a rollup that computed quickly last time (under PORTAL_ROLLUP_SYNC_SECONDS) is recomputed in the request,
  so a small shop sees new data at once;
- a slow one (a large shop) is served as it was and recomputed by a Celery task (`portal.refresh_rollup`,
  one at a time per rollup and scope); the page shows when its figures were computed.
Only a scope nobody has asked for before is computed in the request. Imports warm the rollups of every
region and of all regions when they finish (`warm_all`). Rollups are kept in PostgreSQL too (cartportal/kept.py), so
a restart of the cache server does not make the next page compute them again.
"""

from __future__ import annotations

import functools
import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from cartportal import kept
from cartportal.access import SystemActor, scoped_region_ids

ROLLUP_TTL = 300  # seconds after which a rollup is refreshed even if no row was added
KEEP_SECONDS = 7 * 24 * 3600  # how long a stale rollup may still be served while it is refreshed
REFRESH_LOCK_SECONDS = 600
TABLES = ("cartevent", "order", "orderline", "session", "product", "surveyresponse", "customer")
ROLLUPS: dict[str, object] = {}
# Scalar SQL expressions that domain apps add in AppConfig.ready() when their rollups read their own tables
# (predictions adds when the latest scoring run was published): the core never names a domain's tables.
WATERMARK_SOURCES: list[str] = []


def add_watermark_source(sql: str) -> None:
    """Make every rollup stale when the scalar `sql` changes (registered once, from AppConfig.ready())."""
    if sql not in WATERMARK_SOURCES:
        WATERMARK_SOURCES.append(sql)


def watermark() -> str:
    parts = ", ".join([*(f"(SELECT max(id) FROM cartportal_{t})" for t in TABLES), *WATERMARK_SOURCES])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return ":".join(str(v) for v in cursor.fetchone())


def _key(name: str, ids: list[int] | None) -> str:
    scope = "all" if ids is None else ",".join(str(i) for i in sorted(ids))
    return f"portal-rollup:{name}:{hashlib.sha1(scope.encode()).hexdigest()}"


def _sync_seconds() -> float:
    return float(getattr(settings, "PORTAL_ROLLUP_SYNC_SECONDS", 0.1))


def compute(name: str, ids: list[int] | None, mark: str | None = None) -> dict:
    """Compute a rollup for a scope (as a system reader limited to that scope) and keep it; returns the entry."""
    mark = mark or watermark()
    started = time.perf_counter()
    value = ROLLUPS[name](SystemActor("task:rollups", ids), ids)
    entry = {"value": value, "mark": mark, "at": time.time(), "seconds": time.perf_counter() - started}
    kept.put(_key(name, ids), entry, KEEP_SECONDS)
    cache.delete(_key(name, ids) + ":refreshing")
    return entry


def _refresh_later(name: str, ids: list[int] | None) -> None:
    if not cache.add(_key(name, ids) + ":refreshing", 1, REFRESH_LOCK_SECONDS):
        return  # already queued
    from cartportal.pages.tasks import refresh_rollup

    transaction.on_commit(lambda: refresh_rollup.delay(name, ids))


def read(name: str, ids: list[int] | None):
    entry = kept.get(_key(name, ids))
    if entry is None:
        return compute(name, ids)["value"]
    mark = watermark()
    if entry["mark"] == mark and time.time() - entry["at"] < ROLLUP_TTL:
        return entry["value"]
    if entry["seconds"] < _sync_seconds():
        return compute(name, ids, mark)["value"]
    _refresh_later(name, ids)
    return entry["value"]


def computed_at(name: str, ids: list[int] | None) -> float | None:
    """When the rollup the page shows was computed (epoch seconds), or None."""
    entry = kept.get(_key(name, ids))
    return entry["at"] if entry else None


def warm_all(region_ids: list[int]) -> int:
    """Recompute every rollup for all regions and for each region alone; returns how many were computed."""
    scopes = [None, *[[i] for i in region_ids]]
    for name in ROLLUPS:
        for ids in scopes:
            compute(name, ids)
    return len(ROLLUPS) * len(scopes)


def rollup(func):
    """Cache a selector `(user, region_ids)` by the scope it resolves to (see the module's docstring)."""
    name = f"{func.__module__}.{func.__qualname__}"
    ROLLUPS[name] = func

    @functools.wraps(func)
    def wrapper(user, region_ids: list[int] | None = None):
        return read(name, scoped_region_ids(user, region_ids))

    wrapper.uncached = func
    wrapper.rollup_name = name
    return wrapper
