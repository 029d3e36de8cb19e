"""Training of the customer-level value model the platform rescores, with a time-based holdout.

The portal shows a 12-month forecast. A buy-till-you-die model (BG/NBD or Pareto/NBD for purchases, Gamma-Gamma
for spend per purchase) extrapolates to any horizon, so it is fitted on the whole history and asked for 365 days.
It is chosen, and measured, on a back-test: fitted on each region's orders up to ``holdout_days`` before the end
of that region's data and compared with what the customers actually bought afterwards. The simple baseline it
must beat on the same holdout is "same as last period" (each customer buys as often as in the previous period).

Each region is measured from the end of its own order history, so a region whose import lags (or a data set
that ends years earlier) is not judged against months in which nothing could have been recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from sklearn.metrics import roc_auc_score

from cartportal.errors import AppError
from predictions.value.btyd import BGNBD, GammaGamma, ParetoNBD

from ..readiness import MIN_CUSTOMERS, MIN_HOLDOUT_DAYS
from .features import btyd_features
from .scorers import BTYDScorer, btyd_summary

FORECAST_DAYS = 365
PURCHASE_MODELS = {"bgnbd": BGNBD, "pareto_nbd": ParetoNBD}
BASELINE = "same as last period"


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


_VALID = "status NOT IN ('cancelled', 'returned') AND customer_id IS NOT NULL"


def region_spans(as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Per region with orders: first and last order, orders and customers (before ``as_of`` when given)."""
    where, params = _VALID, []
    if as_of is not None:
        where, params = f"{_VALID} AND placed_at < %s", [as_of]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT region_id, MIN(placed_at), MAX(placed_at), COUNT(*), COUNT(DISTINCT customer_id) "
            f"FROM cartportal_order WHERE {where} GROUP BY region_id ORDER BY region_id",
            params,
        )
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=["region_id", "first", "last", "orders", "customers"]).set_index("region_id")


def region_data_end(region_id: int, as_of: dt.datetime) -> dt.datetime:
    """The forecast origin of a region: ``as_of``, or the end of its order history when that is earlier."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX(placed_at) FROM cartportal_order WHERE region_id = %s AND placed_at < %s AND {_VALID}",
            [region_id, as_of],
        )
        (last,) = cursor.fetchone()
    return as_of if last is None else min(as_of, last + dt.timedelta(seconds=1))


def region_outcomes(region_id: int, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Purchases (days with an order, as the models count them) and spend per customer of the region in [start, end)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id, COUNT(DISTINCT date_trunc('day', placed_at)), COALESCE(SUM(total), 0) "
            "FROM cartportal_order "
            f"WHERE region_id = %s AND placed_at >= %s AND placed_at < %s AND {_VALID} GROUP BY customer_id",
            [region_id, start, end],
        )
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["customer_id", "purchases", "spend"]).set_index("customer_id")
    return frame.astype(float)


def holdout_days_for(spans: pd.DataFrame) -> int:
    """Half of the history of the region with the most orders, at most the 365 days the portal forecasts."""
    main = spans.sort_values("orders", ascending=False).iloc[0]
    return int(min(FORECAST_DAYS, (main["last"] - main["first"]).days // 2))


@dataclass
class Backtest:
    calibration: pd.DataFrame  # features at each region's holdout cut-off, customers who bought before it
    purchases: pd.Series
    spend: pd.Series
    last_period: pd.Series  # purchases in the period of the same length before the cut-off


def backtest_data(spans: pd.DataFrame, holdout_days: int) -> Backtest:
    length = dt.timedelta(days=holdout_days)
    parts, purchases, spend, previous = [], [], [], []
    for region_id, span in spans.iterrows():
        end = span["last"] + dt.timedelta(seconds=1)
        cutoff = end - length
        features = btyd_features(region_id=int(region_id), id_from=0, id_to=2**62, as_of=cutoff)
        features = features[features["purchase_days"] > 0]
        if features.empty:
            continue
        after = region_outcomes(int(region_id), cutoff, end).reindex(features.index).fillna(0.0)
        before = region_outcomes(int(region_id), cutoff - length, cutoff).reindex(features.index).fillna(0.0)
        parts.append(features)
        purchases.append(after["purchases"])
        spend.append(after["spend"])
        previous.append(before["purchases"])
    if not parts:
        raise TrainingError("No customer bought before the holdout period: import a longer order history.")
    return Backtest(pd.concat(parts), pd.concat(purchases), pd.concat(spend), pd.concat(previous))


def poisson_deviance(actual: np.ndarray, predicted: np.ndarray) -> float:
    predicted = np.clip(predicted, 1e-9, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(actual > 0, actual * np.log(actual / predicted), 0.0)
    return round(float(2 * np.mean(term - (actual - predicted))), 4)


def holdout_metrics(scores: pd.DataFrame, purchases: pd.Series, spend: pd.Series) -> dict:
    bought = purchases.to_numpy()
    predicted = scores["expected_purchases"].to_numpy()
    top = np.argsort(-scores["expected_spend"].to_numpy(), kind="stable")[: max(1, len(scores) // 10)]
    share = len(top) / len(scores)
    total_purchases, total_spend = bought.sum(), spend.to_numpy().sum()
    active = (bought > 0).astype(int)
    return {
        "customers": int(len(scores)),
        "poisson_deviance": poisson_deviance(bought, predicted),
        # who buys at all, ranked by expected purchases (BG/NBD's p_alive is 1 for every one-time buyer)
        "roc_auc": round(float(roc_auc_score(active, scores["expected_purchases"])), 4)
        if 0 < active.sum() < len(active)
        else None,
        "predicted_purchases": round(float(predicted.sum()), 1),
        "actual_purchases": int(total_purchases),
        "purchase_count_error": round(float(predicted.sum() / total_purchases - 1), 4) if total_purchases else None,
        "top_decile_lift": round(float(bought[top].sum() / total_purchases / share), 3) if total_purchases else None,
        "revenue_captured_top_decile": round(float(spend.to_numpy()[top].sum() / total_spend), 4)
        if total_spend
        else None,
    }


def fit_scorer(name: str, features: pd.DataFrame, horizon_days: int) -> BTYDScorer:
    summary = btyd_summary(features)
    bought = summary[summary["purchases"] > 0]
    return BTYDScorer(
        purchases_model=PURCHASE_MODELS[name]().fit(bought),
        spend_model=GammaGamma().fit(bought),
        algorithm=name,
        horizon_days=horizon_days,
    )


def _readiness(spans: pd.DataFrame) -> None:
    if spans.empty:
        raise TrainingError("No orders yet: import transactions before training the value model.")
    customers, holdout_days = int(spans["customers"].sum()), holdout_days_for(spans)
    if holdout_days < MIN_HOLDOUT_DAYS:
        raise TrainingError(
            f"needs {2 * MIN_HOLDOUT_DAYS} days of orders in the main region (a calibration and a holdout period); "
            f"has {2 * holdout_days}"
        )
    if customers < MIN_CUSTOMERS:
        raise TrainingError(f"needs {MIN_CUSTOMERS} customers with orders; has {customers}")


def train_value(*, as_of: dt.datetime | None = None, seed: int = 0) -> TrainedModel:
    """Back-test BG/NBD and Pareto/NBD against "same as last period", keep the better BTYD model, refit it on the
    whole history and forecast 12 months. ``seed`` is accepted for the trainer interface (the fit is exact)."""
    spans = region_spans(as_of)
    _readiness(spans)
    holdout_days = holdout_days_for(spans)
    test = backtest_data(spans, holdout_days)
    if test.purchases.sum() == 0:
        raise TrainingError(f"No purchases in the last {holdout_days} days of any region to measure a model on.")
    candidates = {
        name: holdout_metrics(
            fit_scorer(name, test.calibration, holdout_days).score(test.calibration), test.purchases, test.spend
        )
        for name in PURCHASE_MODELS
    }
    chosen = min(candidates, key=lambda name: candidates[name]["poisson_deviance"])
    naive = pd.DataFrame(
        {"expected_purchases": test.last_period, "expected_spend": test.last_period, "p_active": test.last_period > 0}
    )
    baseline = {"name": BASELINE, **holdout_metrics(naive, test.purchases, test.spend)}
    final_features = pd.concat(
        [
            btyd_features(region_id=int(r), id_from=0, id_to=2**62, as_of=s["last"] + dt.timedelta(seconds=1))
            for r, s in spans.iterrows()
        ]
    )
    scorer = fit_scorer(chosen, final_features, FORECAST_DAYS)
    return _trained(scorer, spans, holdout_days, test, candidates, chosen, baseline)


def _trained(scorer, spans, holdout_days, test, candidates, chosen, baseline) -> TrainedModel:
    first, last = spans["first"].min(), spans["last"].max()
    fingerprint = hashlib.sha256(
        f"value|{holdout_days}|{len(test.calibration)}|{test.purchases.sum():.0f}|{test.spend.sum():.2f}".encode()
    ).hexdigest()[:16]
    label = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}[chosen]
    return TrainedModel(
        scorer=scorer,
        algorithm=f"{chosen}_gamma_gamma",
        features=list(scorer.features),
        metrics={**candidates[chosen], "baseline": baseline, "candidates": candidates, "forecast_days": FORECAST_DAYS},
        holdout={
            "fingerprint": fingerprint,
            "kind": "time-based, per region: the last holdout_days of each region's orders",
            "horizon_days": holdout_days,
            "forecast_days": FORECAST_DAYS,
            "customers": int(len(test.calibration)),
        },
        window_start=first,
        window_end=last,
        card={
            "intended_use": f"Rank customers by expected spend over the next 12 months ({label} for purchases, "
            "Gamma-Gamma for spend per purchase); estimate the probability that a customer is still active.",
            "data": f"Orders from {first:%Y-%m-%d} to {last:%Y-%m-%d}; back-tested on each region's last "
            f"{holdout_days} days (fitted on what came before), then refitted on everything.",
            "limitations": f"The 12-month figure is extrapolated by {label}: the back-test covers {holdout_days} days. "
            "Customers who never bought get no forecast (0). No seasonality: a year with a Christmas peak is "
            "under-predicted before it. Not for individual credit or pricing decisions.",
        },
    )
