"""What every loader shares: the loader interface, content keys, and small column helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..copying import whole
from ..schema import EntitySpec, Field

# The columns the loaders fill: keys of customers, sessions, orders and products; money (numeric 12,2) and totals
# (numeric 14,2). A value that does not fit is quarantined, never left to stop the import with a database error.
KEY_LENGTH = 64
MONEY = (12, 2)
TOTAL = (14, 2)
UNIT_PRICE = (12, 4)
REGION = Field("region", synonyms=("country", "region_code", "market", "state", "customer_state", "store"))


def content_key(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 32-hex-digit key (two independent 64-bit hashes) from the listed parsed columns, independent of how
    pandas typed a chunk (1 and 1.0, or a date parsed from any format, give the same key)."""
    canonical = pd.DataFrame({c: _canonical(frame[c]) for c in columns})
    first = pd.util.hash_pandas_object(canonical, index=False, hash_key="cartportal-key-1").to_numpy()
    second = pd.util.hash_pandas_object(canonical, index=False, hash_key="cartportal-key-2").to_numpy()
    return np.char.add(np.char.mod("%016x", first), np.char.mod("%016x", second)).astype(object)


def _canonical(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64").round(9).astype(str).replace("nan", "")
    return series.astype(object).where(series.notna(), "").astype(str)


class Loader:
    spec: EntitySpec
    table: str = ""
    staging: list[tuple[str, str]] = []  # (column, sql type)
    references: list[tuple[str, str, str, str]] = []  # (staging column, table, key column, field name)
    soft_references: list[tuple[str, str, str, str]] = []  # unknown values load as NULL links
    keep_unmapped = False
    region_from: list[tuple[str, str, str]] = []  # (staging column, table, key column)
    natural_key = "source_key"  # the column that identifies a row, in the table and in the staging rows

    def prepare(self, parsed: pd.DataFrame, context) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
        """Staging rows for the valid part of a chunk, plus extra (row position, field, code, message)."""
        raise NotImplementedError

    def duplicates_in_db(self) -> str:
        key = self.natural_key
        return f"DELETE FROM stg s USING {self.table} t WHERE t.{key} = s.{key} RETURNING s.line"

    def insert_staged(self, cursor, columns: list[str]) -> dict:
        """The plain insert: these staging columns into the same columns of the table, skipping known keys."""
        names = ", ".join(columns)
        cursor.execute(
            f"INSERT INTO {self.table} ({names}) SELECT {names} FROM stg ON CONFLICT ({self.natural_key}) DO NOTHING"
        )
        return {"loaded": cursor.rowcount, "cancellations": 0}

    def insert(self, cursor) -> dict:
        raise NotImplementedError


def text_or_none(series: pd.Series) -> pd.Series:
    return series.where(series.notna(), None)


def column_or(parsed: pd.DataFrame, name: str, default=None) -> pd.Series:
    """A parsed field, or a column of `default` where the file has no column for it."""
    return parsed[name] if name in parsed else pd.Series(default, index=parsed.index, dtype=object)


def whole_numbers(series: pd.Series, default: int | None = None) -> pd.Series:
    """An integer field as nullable integers (validation has refused fractions): a gap stays missing, so that it
    loads as NULL and never turns the column into floats, unless `default` fills it."""
    values = whole(series)
    return values if default is None else values.fillna(default)


def numbers(series: pd.Series, default: float | None = None) -> pd.Series:
    """A decimal field as floats, a gap missing unless `default` fills it."""
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    return values if default is None else values.fillna(default)


def overflowing(values: pd.Series, digits: tuple[int, int]) -> np.ndarray:
    """Where a computed value (an amount from quantity × price) would not fit its numeric column."""
    precision, scale = digits
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(numbers) & ~np.isnan(numbers) | (
            np.abs(np.round(numbers, scale)) >= 10.0 ** (precision - scale)
        )


def overflow_problems(checks) -> list[tuple[int, str, str, str]]:
    """(row position, field, code, message) for each computed value that does not fit: `checks` holds
    (field, values, digits, what the value is)."""
    out = []
    for name, values, digits, what in checks:
        message = f"{what} does not fit {digits[0]} digits with {digits[1]} decimals."
        out += [(pos, name, "out_of_range", message) for pos in np.flatnonzero(overflowing(values, digits))]
    return out
