"""Training of the customer-level models the platform rescores, with a time-based holdout.

Value model: from features at a cut-off, predict the next `horizon` days (bought at all, how many purchases,
how much spend). Trained on the window that ends where the holdout starts, measured on the holdout window
(features at the holdout cut-off, outcomes after it), so no figure comes from training data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score

from cartportal.errors import AppError

from .features import CUSTOMER_FEATURES, all_customer_features
from .scorers import ValueScorer


class TrainingError(AppError, ValueError):
    """Not enough data to train and hold out (the message says what is missing)."""


@dataclass
class TrainedModel:
    scorer: object
    algorithm: str
    features: list[str]
    metrics: dict
    holdout: dict
    window_start: dt.datetime
    window_end: dt.datetime
    card: dict


def order_span() -> tuple[dt.datetime, dt.datetime] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(placed_at), MAX(placed_at) FROM cartportal_order WHERE status NOT IN ('cancelled', 'returned')"
        )
        first, last = cursor.fetchone()
    return None if first is None else (first, last)


def outcomes(start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Purchases and spend per customer in [start, end)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id, COUNT(*), SUM(total) FROM cartportal_order WHERE placed_at >= %s AND placed_at < %s "
            "AND customer_id IS NOT NULL AND status NOT IN ('cancelled', 'returned') GROUP BY customer_id",
            [start, end],
        )
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["customer_id", "purchases", "spend"]).set_index("customer_id")
    return frame.astype(float)


def _window(as_of: dt.datetime, horizon: dt.timedelta) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    features = all_customer_features(as_of=as_of)
    features = features[features["tenure_days"] >= 0]
    result = outcomes(as_of, as_of + horizon).reindex(features.index).fillna(0.0)
    return features, result["purchases"], result["spend"]


def holdout_metrics(scores: pd.DataFrame, purchases: pd.Series, spend: pd.Series) -> dict:
    bought = purchases.to_numpy()
    top = np.argsort(-scores["expected_spend"].to_numpy(), kind="stable")[: max(1, len(scores) // 10)]
    share = len(top) / len(scores)
    total_purchases, total_spend = bought.sum(), spend.to_numpy().sum()
    active = (bought > 0).astype(int)
    return {
        "customers": int(len(scores)),
        "roc_auc": round(float(roc_auc_score(active, scores["p_active"])), 4)
        if 0 < active.sum() < len(active)
        else None,
        "predicted_purchases": round(float(scores["expected_purchases"].sum()), 1),
        "actual_purchases": int(total_purchases),
        "purchase_count_error": round(float(scores["expected_purchases"].sum() / total_purchases - 1), 4)
        if total_purchases
        else None,
        "top_decile_lift": round(float(bought[top].sum() / total_purchases / share), 3) if total_purchases else None,
        "revenue_captured_top_decile": round(float(spend.to_numpy()[top].sum() / total_spend), 4)
        if total_spend
        else None,
    }


def train_value(*, as_of: dt.datetime | None = None, horizon_days: int | None = None, seed: int = 0) -> TrainedModel:
    span = order_span()
    if span is None:
        raise TrainingError("No orders yet: import transactions before training the value model.")
    first, last = span
    as_of = min(as_of or last + dt.timedelta(days=1), last + dt.timedelta(days=1))
    days = (as_of - first).days
    horizon_days = horizon_days or min(365, days // 3)
    if horizon_days < 14:
        raise TrainingError(f"Only {days} days of orders: at least 42 are needed for a training and a holdout window.")
    horizon = dt.timedelta(days=horizon_days)
    holdout_cutoff, train_cutoff = as_of - horizon, as_of - 2 * horizon
    x_train, purchases_train, spend_train = _window(train_cutoff, horizon)
    x_hold, purchases_hold, spend_hold = _window(holdout_cutoff, horizon)
    if len(x_train) < 50 or purchases_train.sum() == 0:
        raise TrainingError("Too few customers with purchases in the training window.")
    params = {
        "max_iter": 150,
        "learning_rate": 0.05,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 20,
        "random_state": seed,
    }
    matrix = x_train[CUSTOMER_FEATURES].to_numpy(float)
    scorer = ValueScorer(
        active=HistGradientBoostingClassifier(**params).fit(matrix, (purchases_train > 0).astype(int)),
        purchases=HistGradientBoostingRegressor(loss="poisson", **params).fit(matrix, purchases_train),
        spend=HistGradientBoostingRegressor(loss="poisson", **params).fit(matrix, spend_train),
        features=list(CUSTOMER_FEATURES),
        horizon_days=horizon_days,
    )
    metrics = holdout_metrics(scorer.score(x_hold), purchases_hold, spend_hold)
    fingerprint = hashlib.sha256(
        f"{holdout_cutoff.isoformat()}|{horizon_days}|{len(x_hold)}|{purchases_hold.sum():.0f}|{spend_hold.sum():.2f}".encode()
    ).hexdigest()[:16]
    return TrainedModel(
        scorer=scorer,
        algorithm="hist_gradient_boosting_window",
        features=list(CUSTOMER_FEATURES),
        metrics=metrics,
        holdout={
            "fingerprint": fingerprint,
            "kind": "time-based",
            "cutoff": holdout_cutoff.isoformat(),
            "end": as_of.isoformat(),
            "horizon_days": horizon_days,
            "customers": len(x_hold),
        },
        window_start=first,
        window_end=train_cutoff + horizon,
        card={
            "intended_use": f"Rank customers by expected spend over the next {horizon_days} days; "
            "estimate the probability that a customer buys again.",
            "data": f"Orders from {first:%Y-%m-%d} to {as_of:%Y-%m-%d}; features at {train_cutoff:%Y-%m-%d}, "
            f"outcomes up to {holdout_cutoff:%Y-%m-%d}; held out: outcomes after {holdout_cutoff:%Y-%m-%d}.",
            "limitations": "Customers without orders get the population's base rate; predictions assume the "
            "shop's buying pattern in the next window resembles the last one. Not for individual credit or "
            "pricing decisions.",
        },
    )
