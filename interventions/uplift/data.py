"""Reading a randomised experiment file shaped like hillstrom.csv (other shops' column names welcome)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cartportal.errors import AppError

# Columns that are measured after treatment; using them as features would leak the outcome.
KNOWN_OUTCOME_COLUMNS = {"visit", "conversion", "converted", "spend", "revenue", "outcome", "purchase", "order_value"}


class ExperimentFileError(AppError, ValueError):
    """The file cannot be read as an experiment; the message says why."""


@dataclass
class Experiment:
    features: pd.DataFrame
    target: pd.Series
    treatment: pd.Series  # 1 = treated, 0 = control
    cat_features: list[str]
    treatment_col: str


def read_table(path: str | Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=None, engine="python") if str(path).endswith(".txt") else pd.read_csv(path)
    except FileNotFoundError as exc:
        raise ExperimentFileError(f"file not found: {path}") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ExperimentFileError(f"cannot read {path} as CSV: {exc}") from exc


def detect_treatment_col(df: pd.DataFrame, treatment: str, control: str) -> str:
    """The column whose values include both arm names (e.g. `segment` in hillstrom.csv)."""
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            values = set(df[col].dropna().astype(str).str.strip().unique())
            if treatment in values and control in values:
                return col
    raise ExperimentFileError(f"no column contains both {treatment!r} and {control!r}; name it with --treatment-col")


def to_binary(series: pd.Series, name: str) -> pd.Series:
    if series.isna().any():
        raise ExperimentFileError(f"target column {name!r} has {int(series.isna().sum())} empty values")
    if series.dtype == bool:
        return series.astype(int)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.isna().any():
        lowered = series.astype(str).str.strip().str.lower()
        mapping = {"1": 1, "0": 0, "yes": 1, "no": 0, "true": 1, "false": 0, "y": 1, "n": 0}
        if not lowered.isin(mapping).all():
            raise ExperimentFileError(f"target column {name!r} is not binary (0/1, yes/no, true/false)")
        return lowered.map(mapping).astype(int)
    if not numeric.isin([0, 1]).all():
        return (numeric > 0).astype(int)  # e.g. spend: any positive amount counts as a conversion
    return numeric.astype(int)


def load_experiment(
    path: str | Path, *, treatment: str, control: str, target: str, treatment_col: str | None = None
) -> Experiment:
    df = read_table(path)
    df.columns = [str(c).strip() for c in df.columns]
    if target not in df.columns:
        raise ExperimentFileError(f"target column {target!r} not in file (columns: {', '.join(df.columns)})")
    col = treatment_col or detect_treatment_col(df, treatment, control)
    if col not in df.columns:
        raise ExperimentFileError(f"treatment column {col!r} not in file")
    arm = df[col].astype(str).str.strip()
    for name in (treatment, control):
        if not (arm == name).any():
            raise ExperimentFileError(f"no rows with {col} = {name!r}")
    keep = arm.isin([treatment, control])
    df = df[keep].reset_index(drop=True)
    arm = arm[keep].reset_index(drop=True)
    y = to_binary(df[target], target)
    t = (arm == treatment).astype(int)
    drop = {col, target} | {c for c in df.columns if c.lower() in KNOWN_OUTCOME_COLUMNS}
    X = df.drop(columns=sorted(drop))
    if X.shape[1] == 0:
        raise ExperimentFileError("no feature columns left after removing treatment and outcome columns")
    cat = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    for c in cat:
        X[c] = X[c].fillna("(missing)").astype(str)
    return Experiment(features=X, target=y, treatment=t, cat_features=cat, treatment_col=col)
