"""Rows to PostgreSQL COPY text: one conversion for every load path and every kind.

Each column is written by the SQL type it goes to, not by the dtype pandas happened to give it: an integer
column with gaps (which pandas holds as floats) is written as whole numbers, an empty number, date or link as
NULL, a timestamp as ISO 8601 UTC, a yes/no as true/false.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

INTEGER_TYPES = {"int", "integer", "bigint", "smallint"}
NUMBER_TYPES = {"numeric", "float8", "double precision", "real"}


def copy_text(frame: pd.DataFrame, types: dict[str, str]) -> str:
    """CSV text for COPY (NULL written as \\N) of the listed columns of `frame`, each converted for its SQL type."""
    out = pd.DataFrame({name: sql_value(frame[name], sql) for name, sql in types.items()})
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep="\\N")
    return buffer.getvalue()


def copy_rows(cursor, table: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """COPY the rows of `frame` into `table` (columns and SQL types as in `types`)."""
    if frame.empty:
        return
    text = copy_text(frame, types)
    with cursor.copy(f"COPY {table} ({', '.join(types)}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
        copy.write(text)


def sql_value(values: pd.Series, sql: str) -> pd.Series:
    """One column as Python values COPY writes correctly for the SQL type (None for a missing value)."""
    if sql in INTEGER_TYPES:
        return _missing_as_none(whole(values))
    if sql in NUMBER_TYPES:
        numbers = pd.to_numeric(_object(values), errors="coerce").astype("float64")
        return _missing_as_none(numbers)
    if sql == "timestamptz":
        return iso_utc(values)
    if sql == "bool":
        return _object(values).map(lambda v: None if v is None else ("true" if v else "false"))
    return _object(values)


def whole(values: pd.Series) -> pd.Series:
    """Nullable integers (Int64) from ints, floats with gaps, or objects mixing ints and missing values."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype("Int64")
    if pd.api.types.is_float_dtype(values.dtype):
        return values.round().astype("Int64")
    return pd.to_numeric(_object(values), errors="coerce").astype("Float64").round().astype("Int64")


def iso_utc(values: pd.Series) -> pd.Series:
    """Timestamps as ISO 8601 UTC text for COPY (None for a missing one), formatted in one vectorised pass."""
    stamps = pd.to_datetime(values, utc=True)
    naive = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    text = pd.Series(np.datetime_as_string(naive, unit="us"), index=values.index, dtype=object) + "+00"
    return text.where(stamps.notna(), None)


def _object(values: pd.Series) -> pd.Series:
    """Python objects with None for every kind of missing value (None, NaN, NaT, pd.NA)."""
    out = values.astype(object)
    return out.where(values.notna(), None)


def _missing_as_none(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)
