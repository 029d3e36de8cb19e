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
        self.train_horizon_days = training_horizon(frame, cutoff, self.horizon_days, self.min_history_days)
        cutoffs = training_cutoffs(frame, cutoff, self.train_horizon_days, self.step_days, self.min_history_days)
        if not cutoffs:
            raise tx.TransactionError("not enough history before the cut-off to train on an earlier window")
        parts = []
        for start in cutoffs:
            features = customer_features(frame, start, self.train_horizon_days)
            target = tx.outcome(frame, start, start + pd.Timedelta(days=self.train_horizon_days), features.index)
            parts.append(features[FEATURES].assign(_purchases=target["purchases"], _spend=target["spend"]))
        data = pd.concat(parts, ignore_index=True)
        if data["_purchases"].sum() == 0:
            raise tx.TransactionError("no purchases in the earlier windows to learn from")
        self.windows = [c.date().isoformat() for c in cutoffs]
        x = data[FEATURES].to_numpy(float)
        common = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40}
        self.purchases = HistGradientBoostingRegressor(loss="poisson", random_state=self.seed, **common).fit(
            x, data["_purchases"]
        )
        # zero-amount purchases leave the spend target all zeros in a free shop; the Poisson loss needs a positive sum
        self.spend = (
            HistGradientBoostingRegressor(loss="poisson", random_state=self.seed, **common).fit(x, data["_spend"])
            if data["_spend"].sum() > 0
            else None
        )
        active = (data["_purchases"] > 0).astype(int)
        self.active = HistGradientBoostingClassifier(random_state=self.seed, **common).fit(x, active)
        return self

    def predict(self, frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        features = customer_features(frame, cutoff, self.train_horizon_days)
        x = features[FEATURES].to_numpy(float)
        p_active = self.active.predict_proba(x)[:, 1]
        purchases = self.purchases.predict(x)
        spend = self.spend.predict(x) if self.spend is not None else np.zeros(len(x))
        if self.train_horizon_days != self.horizon_days:
            # trained on shorter windows: stretch each customer's forecast by the BG/NBD ratio of the two horizons,
            # which keeps dropout in the picture (a plain H/h factor would assume nobody leaves)
            summary = features[["frequency", "recency", "T"]]
            baseline = BGNBD().fit(summary)
            short = baseline.expected_purchases(summary, self.train_horizon_days)
            ratio = np.where(
                short > 0, baseline.expected_purchases(summary, self.horizon_days) / np.maximum(short, 1e-12), 1.0
            )
            purchases, spend = purchases * ratio, spend * ratio
            p_active = 1 - (1 - p_active) ** (self.horizon_days / self.train_horizon_days)
        return pd.DataFrame(
            {"p_active": p_active, "expected_purchases": purchases, "expected_spend": spend}, index=features.index
        )


def training_horizon(frame: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, min_history_days: int) -> int:
    """The full horizon when an earlier window of that length fits before the cut-off after ``min_history_days`` of
    history; otherwise the longest shorter one that does (at least 14 days), whose forecasts are then stretched."""
    available = (cutoff - frame["at"].min()).days - min_history_days
    if available >= horizon_days:
        return horizon_days
    if available < 14:
        raise tx.TransactionError(
            f"not enough history before the cut-off: {available + min_history_days} days, "
            f"at least {min_history_days + 14} are needed to train on an earlier window"
        )
    return int(available)
