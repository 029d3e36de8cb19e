"""Portal reads: behavioural insights, the executive rollup and the audit viewer.

Every selector takes the user and the region ids asked for, and starts from the user's scope
(`scoped_region_ids`), so a page and the API built on the same selector show the same numbers.
"""

from __future__ import annotations

from django.db import connection

from cartportal.access import region_ids_for


def scoped_region_ids(user, wanted: list[int] | None = None) -> list[int] | None:
    """The region ids to read: the user's view scope, narrowed to `wanted` when given (None = every region)."""
    allowed = region_ids_for(user, "view")
    if wanted is None:
        return allowed
    return list(wanted) if allowed is None else [i for i in wanted if i in set(allowed)]


def region_sql(ids: list[int] | None, column: str = "region_id") -> tuple[str, list]:
    """A WHERE fragment for the scope: nothing for every region, `= ANY(...)` otherwise."""
    if ids is None:
        return "TRUE", []
    return f"{column} = ANY(%s)", [list(ids)]


def fetch_dicts(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
