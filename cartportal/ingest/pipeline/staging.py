"""The staging path: a chunk's rows COPY'd into a temporary table, checked against what is loaded with
set-based SQL, then moved into the real tables by the loader's INSERTs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..copying import copy_rows
from .rejections import Rejected, rejected, unknown_reference

if TYPE_CHECKING:
    from .run import ImportRun


def stage(cursor, loader, staged: pd.DataFrame) -> None:
    columns = ", ".join(f"{name} {sql}" for name, sql in loader.staging)
    cursor.execute("DROP TABLE IF EXISTS stg")
    cursor.execute(f"CREATE TEMP TABLE stg ({columns}) ON COMMIT DROP")
    copy_rows(cursor, "stg", staged, dict(loader.staging))
    if not staged.empty:
        cursor.execute("ANALYZE stg")


def sql_checks(cursor, run: ImportRun, raw_by_line, column_of) -> list[Rejected]:
    loader, resolver = run.loader, run.resolver
    out = []
    region_missing = False
    if getattr(loader, "region_from", []):
        cursor.execute("SELECT EXISTS (SELECT 1 FROM stg WHERE region_id IS NULL)")
        region_missing = cursor.fetchone()[0]
    for column, table, key in getattr(loader, "region_from", []) if region_missing else []:
        cursor.execute(
            f"UPDATE stg s SET region_id = t.region_id FROM {table} t "
            f"WHERE s.region_id IS NULL AND s.{column} IS NOT NULL AND t.{key} = s.{column}"
        )
    for column, table, key, field_name in loader.references:
        cursor.execute(
            f"DELETE FROM stg s WHERE s.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.{key} = s.{column}) RETURNING s.line, s.{column}"
        )
        label = column_of.get(field_name, field_name)
        out += [unknown_reference(line, label, value, raw_by_line) for line, value in cursor.fetchall()]
    for column, table, key, _field in loader.soft_references:
        cursor.execute(
            f"UPDATE stg s SET {column} = NULL WHERE s.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.{key} = s.{column})"
        )
    if run.needs_region:
        region_label = column_of.get("region", "")
        cursor.execute("DELETE FROM stg WHERE region_id IS NULL RETURNING line")
        out += [rejected("missing_region", line, raw_by_line, region_label) for (line,) in cursor.fetchall()]
        if resolver.allowed is not None:
            cursor.execute(
                "DELETE FROM stg WHERE NOT (region_id = ANY(%s)) RETURNING line, region_id", [list(resolver.allowed)]
            )
            out += [
                rejected("region_forbidden", line, raw_by_line, region_label, region_id)
                for line, region_id in cursor.fetchall()
            ]
    return out
