"""What the registry stores and the pipeline calls: a scorer turns a feature frame into a score frame.

A scorer has `features` (the columns it reads, in order) and `score(frame) -> DataFrame` with a `value`
column, optional extra columns (kept in Score.extra) and an optional `contributions` column (dicts of
friction driver -> weight). Any object with that shape can be registered, so the modelling code can hand
over its own scorers; the two below wrap ordinary estimators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"feature columns missing for scoring: {', '.join(missing)}")
    return frame[features].to_numpy(np.float64)


@dataclass
class ClassifierScorer:
    """value = probability of the positive class of a fitted classifier (CatBoost, scikit-learn, ...)."""

    estimator: object
    features: list[str]
    extra_columns: list[str] = field(default_factory=list)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        value = self.estimator.predict_proba(_matrix(frame, self.features))[:, 1]
        return pd.DataFrame({"value": value}, index=frame.index)


@dataclass
class ValueScorer:
    """Customer value: probability of buying again, expected purchases and expected spend over a horizon.

    value = expected_spend. The three estimators share one feature list."""

    active: object
    purchases: object
    spend: object
    features: list[str]
    horizon_days: int = 365

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = _matrix(frame, self.features)
        p_active = self.active.predict_proba(x)[:, 1]
        purchases = np.clip(self.purchases.predict(x), 0, None)
        spend = np.clip(self.spend.predict(x), 0, None)
        return pd.DataFrame(
            {"value": spend, "p_active": p_active, "expected_purchases": purchases, "expected_spend": spend},
            index=frame.index,
        )
