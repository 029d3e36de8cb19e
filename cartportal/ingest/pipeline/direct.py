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
    ids, regions = {}, {}
    for column, table, key, field_name in loader.references:
        values = staged[column]
        known = cache.setdefault(table, {})
        _fetch_missing(cursor, table, key, values, known)
        ids[column], regions[column] = _lookup(values, known)
        missing = values.notna().to_numpy() & np.isnan(ids[column]) & ~bad
        label = column_of.get(field_name, field_name)
        quarantine += [
            unknown_reference(lines[pos], label, values.iat[pos], raw_by_line) for pos in np.flatnonzero(missing)
        ]
        bad |= missing
    region = pd.to_numeric(staged["region_id"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    for column, _table, _key in getattr(loader, "region_from", []):
        region = np.where(np.isnan(region), regions[column], region)
    if run.needs_region:
        no_region = np.isnan(region) & ~bad
        region_label = column_of.get("region", "")
        quarantine += [
            rejected("missing_region", lines[pos], raw_by_line, region_label) for pos in np.flatnonzero(no_region)
        ]
        bad |= no_region
        if resolver.allowed is not None:
            forbidden = ~np.isin(region, list(resolver.allowed)) & ~bad
            quarantine += [
                rejected("region_forbidden", lines[pos], raw_by_line, region_label, region[pos])
                for pos in np.flatnonzero(forbidden)
            ]
            bad |= forbidden
    keys = staged["source_key"].to_numpy()
    cursor.execute(f"SELECT source_key FROM {loader.table} WHERE source_key = ANY(%s)", [list(keys[~bad])])
    existing = {k for (k,) in cursor.fetchall()}
    if existing:
        in_db = pd.Series(keys).isin(existing).to_numpy() & ~bad
        dupes += [rejected("duplicate_in_database", lines[pos], raw_by_line) for pos in np.flatnonzero(in_db)]
        bad |= in_db
    rows = loader.direct_rows(staged[~bad], {c: v[~bad] for c, v in ids.items()}, region[~bad])
    copy_rows(cursor, loader.table, rows, dict(loader.direct_columns))
    return {"loaded": len(rows), "cancellations": 0}, quarantine, dupes


def _fetch_missing(cursor, table: str, key: str, values: pd.Series, known: dict) -> None:
    """Add to the cache {natural key: (id, region id) or None} the keys of this chunk it has not seen."""
    wanted = [v for v in values.dropna().unique() if v not in known]
    region_column = "NULL" if table in REGIONLESS_TABLES else "region_id"
    for start in range(0, len(wanted), 50_000):
        batch = wanted[start : start + 50_000]
        cursor.execute(f"SELECT {key}, id, {region_column} FROM {table} WHERE {key} = ANY(%s)", [list(batch)])
        known.update({k: (i, r) for k, i, r in cursor.fetchall()})
        known.update({k: None for k in batch if k not in known})


def _lookup(values: pd.Series, known: dict) -> tuple[np.ndarray, np.ndarray]:
    """The id and region id of each value (NaN where empty or unknown), looked up once per distinct value."""
    codes, uniques = pd.factorize(values)  # an empty value gets code -1, which picks the trailing NaN
    pairs = [known.get(value) for value in uniques]
    unique_ids = np.array([p[0] if p else np.nan for p in pairs] + [np.nan], dtype=float)
    unique_regions = np.array([p[1] if p and p[1] is not None else np.nan for p in pairs] + [np.nan], dtype=float)
    return unique_ids[codes], unique_regions[codes]
