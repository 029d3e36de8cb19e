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


def btyd_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The BTYD inputs from ``features.btyd_features``: repeat purchase days (frequency), the customer's age at the
    last purchase (recency) and at the cut-off (T), both counted from the first purchase, and the mean order value."""
    days = frame["purchase_days"].to_numpy(np.float64)
    T = np.clip(frame["days_since_first"].to_numpy(np.float64), 0, None)
    recency = np.clip(T - frame["days_since_last"].to_numpy(np.float64), 0, T)
    return pd.DataFrame(
        {
            "frequency": np.clip(days - 1, 0, None),
            "recency": recency,
            "T": T,
            "monetary": frame["avg_order_value"].to_numpy(np.float64),
            "purchases": days,
        },
        index=frame.index,
    )


@dataclass
class BTYDScorer:
    """Customer value from a buy-till-you-die model (BG/NBD or Pareto/NBD) and Gamma-Gamma, over ``horizon_days``.

    value = expected spend. Each region is scored from the end of its own order history (``chunk_features``), so a
    region whose data stops early is not treated as a crowd of lapsed customers. Customers who never bought get 0:
    these models describe customers after a first purchase."""

    purchases_model: object
    spend_model: object
    algorithm: str
    horizon_days: int = 365
    features: list[str] = field(
        default_factory=lambda: ["purchase_days", "days_since_first", "days_since_last", "avg_order_value"]
    )

    def chunk_features(self, *, region_id: int, id_from: int, id_to: int, as_of) -> pd.DataFrame:
        from .features import btyd_features
        from .training import region_data_end

        origin = region_data_end(region_id, as_of)
        return btyd_features(region_id=region_id, id_from=id_from, id_to=id_to, as_of=origin)

    def current_chunk_features(self, *, region_id: int, id_from: int, id_to: int, as_of) -> pd.DataFrame:
        """The same at a cut-off "now", read from the per-customer order aggregates."""
        from .features import current_btyd_features
        from .training import region_data_end

        origin = region_data_end(region_id, as_of)
        return current_btyd_features(region_id=region_id, id_from=id_from, id_to=id_to, as_of=origin, cut_off=as_of)

    def population_features(self, *, as_of) -> pd.DataFrame:
        """Every customer's features at ``as_of`` (drift compares two month-ends with them)."""
        from cartportal.models import Region

        from .features import btyd_features

        parts = [
            btyd_features(region_id=region_id, id_from=0, id_to=2**62, as_of=as_of)
            for region_id in Region.objects.order_by("pk").values_list("pk", flat=True)
        ]
        return pd.concat(parts) if parts else btyd_features(region_id=0, id_from=0, id_to=-1, as_of=as_of)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        summary = btyd_summary(frame)
        bought = summary["purchases"].to_numpy() > 0
        p_active = np.where(bought, self.purchases_model.p_alive(summary), 0.0)
        purchases = np.where(bought, self.purchases_model.expected_purchases(summary, self.horizon_days), 0.0)
        spend = purchases * self.spend_model.expected_spend_per_purchase(summary)
        return pd.DataFrame(
            {"value": spend, "p_active": p_active, "expected_purchases": purchases, "expected_spend": spend},
            index=frame.index,
        )
