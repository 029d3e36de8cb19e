"""A machine-learned value model: features of each customer at a cut-off c predict purchases and spend in [c, c+H).

Trained on earlier windows only (cut-offs c - H, c - H - step, ...), so that every training target lies before c.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from predictions.value import transactions as tx
from predictions.value.btyd import BGNBD

FEATURES = [
    "frequency",
    "recency",
    "T",
    "days_since_last",
    "monetary",
    "total_spend",
    "purchases",
    "purchases_30d",
    "purchases_90d",
    "spend_90d",
    "mean_gap",
    "bgnbd_expected",
    "bgnbd_p_alive",
]


def customer_features(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    summary = tx.rfm_summary(frame, cutoff)
    past = tx.history_until(frame, cutoff)
    features = summary.copy()
    features["days_since_last"] = summary["T"] - summary["recency"]
    for days in (30, 90):
        recent = past[past["at"] >= cutoff - pd.Timedelta(days=days)].groupby("customer_id")["amount"]
        features[f"purchases_{days}d"] = recent.size().reindex(summary.index).fillna(0)
        if days == 90:
            features["spend_90d"] = recent.sum().reindex(summary.index).fillna(0)
    features["mean_gap"] = np.where(
        summary["frequency"] > 0, summary["recency"] / summary["frequency"].clip(lower=1), -1
    )
    baseline = BGNBD().fit(summary)
    features["bgnbd_expected"] = baseline.expected_purchases(summary, horizon_days)
    features["bgnbd_p_alive"] = baseline.p_alive(summary)
    return features


def training_cutoffs(
    frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, step_days: int, min_history_days: int
):
    first = frame["at"].min()
    latest = cutoff - pd.Timedelta(days=horizon_days)
    found = []
    while latest - first >= pd.Timedelta(days=min_history_days) and len(found) < 6:
        found.append(latest)
        latest -= pd.Timedelta(days=step_days)
    return found


class WindowModel:
    """Gradient-boosted Poisson regressors for purchases and spend, and a classifier for any purchase."""

    def __init__(self, horizon_days: int, step_days: int = 30, min_history_days: int = 60, seed: int = 0):
        self.horizon_days, self.step_days, self.min_history_days, self.seed = (
            horizon_days,
            step_days,
            min_history_days,
            seed,
        )

    def fit(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> WindowModel:
        cutoffs = training_cutoffs(frame, cutoff, self.horizon_days, self.step_days, self.min_history_days)
        if not cutoffs:
            raise tx.TransactionError("not enough history before the cut-off to train on an earlier window")
        parts = []
        for start in cutoffs:
            features = customer_features(frame, start, self.horizon_days)
            target = tx.outcome(frame, start, start + pd.Timedelta(days=self.horizon_days), features.index)
            parts.append(features[FEATURES].assign(_purchases=target["purchases"], _spend=target["spend"]))
        data = pd.concat(parts, ignore_index=True)
        self.windows = [c.date().isoformat() for c in cutoffs]
        x = data[FEATURES].to_numpy(float)
        common = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40}
        self.purchases = HistGradientBoostingRegressor(loss="poisson", random_state=self.seed, **common).fit(
            x, data["_purchases"]
        )
        self.spend = HistGradientBoostingRegressor(loss="poisson", random_state=self.seed, **common).fit(
            x, data["_spend"]
        )
        active = (data["_purchases"] > 0).astype(int)
        self.active = HistGradientBoostingClassifier(random_state=self.seed, **common).fit(x, active)
        return self

    def predict(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        features = customer_features(frame, cutoff, self.horizon_days)
        x = features[FEATURES].to_numpy(float)
        return pd.DataFrame(
            {
                "p_active": self.active.predict_proba(x)[:, 1],
                "expected_purchases": self.purchases.predict(x),
                "expected_spend": self.spend.predict(x),
            },
            index=features.index,
        )
