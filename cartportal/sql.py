"""Raw SQL reads that return rows as dicts (the rollups are computed in PostgreSQL)."""

from __future__ import annotations

from django.db import connection


def fetch_dicts(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
