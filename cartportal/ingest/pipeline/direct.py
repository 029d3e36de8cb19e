"""The direct path for high-volume kinds: references resolved with cached id lookups, and the rows COPY'd
straight into the table, with the same checks as the staging path and no staging table or joins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..copying import copy_rows
from .rejections import rejected, unknown_reference

if TYPE_CHECKING:
    from .run import ImportRun

REGIONLESS_TABLES = {"cartportal_product"}


def direct_load(cursor, run: ImportRun, staged: pd.DataFrame, raw_by_line, column_of):
    """Resolve references with cached id lookups, drop keys already loaded, and COPY straight into the table.
    The same checks as the staging path, without the staging table and the joins (for high-volume kinds)."""
    loader, resolver, cache = run.loader, run.resolver, run.id_cache
    quarantine, dupes = [], []
    lines = staged["line"].to_numpy()
    bad = np.zeros(len(staged), dtype=bool)
    ids = {}
    for column, table, key, field_name in loader.references:
        values = staged[column]
        known = cache.setdefault(table, {})
        wanted = [v for v in values.dropna().unique() if v not in known]
        for start in range(0, len(wanted), 50_000):
            region_column = "NULL" if table in REGIONLESS_TABLES else "region_id"
            cursor.execute(
                f"SELECT {key}, id, {region_column} FROM {table} WHERE {key} = ANY(%s)",
                [list(wanted[start : start + 50_000])],
            )
            known.update({k: (i, r) for k, i, r in cursor.fetchall()})
            known.update({k: None for k in wanted[start : start + 50_000] if k not in known})
        found = values.map(lambda v, known=known: known.get(v) if v is not None and v == v else None)
        missing = values.notna().to_numpy() & found.isna().to_numpy() & ~bad
        label = column_of.get(field_name, field_name)
        quarantine += [
            unknown_reference(lines[pos], label, values.iat[pos], raw_by_line) for pos in np.flatnonzero(missing)
        ]
        bad |= missing
        ids[column] = found
    region = staged["region_id"].astype(object).where(staged["region_id"].notna(), None)
    for column, _table, _key in getattr(loader, "region_from", []):
        derived = ids[column].map(lambda pair: pair[1] if isinstance(pair, tuple) else None)
        region = region.where(region.notna(), derived)
    if run.needs_region:
        no_region = region.isna().to_numpy() & ~bad
        region_label = column_of.get("region", "")
        quarantine += [
            rejected("missing_region", lines[pos], raw_by_line, region_label) for pos in np.flatnonzero(no_region)
        ]
        bad |= no_region
        if resolver.allowed is not None:
            allowed = set(resolver.allowed)
            forbidden = np.array([r is not None and int(r) not in allowed for r in region]) & ~bad
            quarantine += [
                rejected("region_forbidden", lines[pos], raw_by_line, region_label, region.iat[pos])
                for pos in np.flatnonzero(forbidden)
            ]
            bad |= forbidden
    keys = staged["source_key"].to_numpy()
    cursor.execute(f"SELECT source_key FROM {loader.table} WHERE source_key = ANY(%s)", [list(keys[~bad])])
    existing = {k for (k,) in cursor.fetchall()}
    if existing:
        in_db = np.array([k in existing for k in keys]) & ~bad
        dupes += [rejected("duplicate_in_database", lines[pos], raw_by_line) for pos in np.flatnonzero(in_db)]
        bad |= in_db
    rows = loader.direct_rows(staged[~bad], {c: v[~bad] for c, v in ids.items()}, region[~bad])
    copy_rows(cursor, loader.table, rows, dict(loader.direct_columns))
    return {"loaded": len(rows), "cancellations": 0}, quarantine, dupes
