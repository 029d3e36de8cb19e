"""The promotion regressor: predicted spend of a customer in a category over the next window, from the frames of
`features`. A tree ensemble (scikit-learn's histogram gradient boosting, Poisson loss because spend is
non-negative and mostly zero) with fixed parameters.

Time-based holdout: a model fitted on the window before last (features as of `latest - 2 windows`, spend in
the following window) is scored on the last window (features as of `latest - 1 window`). Reported: mean
absolute and root-mean-square error against a naive forecast (the customer's past spend rate in the category)
and against the training mean, and the top-3 hit rate (share of buyers in the last window whose biggest
category was among their three predicted ones) against the three most bought categories of their region. The
model that writes the offers is then fitted on the last window with the same recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from cartportal.errors import AppError
from interventions.promotions.features import FEATURES, NEVER_DAYS, Activity, pairs_at
from interventions.promotions.recommended import recommended_share, recommender_params

# Poisson loss for a non-negative, mostly-zero spend; leaves of at least 100 pairs and an L2 penalty, because a few
# very large orders otherwise make single leaves predict absurd amounts.
PARAMS = {
    "loss": "poisson",
    "max_iter": 200,
    "learning_rate": 0.05,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "random_state": 0,
}


class PromotionModelError(AppError, ValueError):
    """Not enough history to train or check the model; the message says why."""


@dataclass
class Trained:
    regressor: HistGradientBoostingRegressor
    holdout: dict
    scoring_cutoff: pd.Timestamp
    params: object = None  # the recommender settings the offers are ranked with
    best_seller_weight: float = 0.0


def fit(pairs: pd.DataFrame) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(**PARAMS).fit(pairs[FEATURES], pairs["target"])


def predict(regressor, pairs: pd.DataFrame) -> np.ndarray:
    return np.clip(regressor.predict(pairs[FEATURES]), 0.0, None)


# capped at 16: much more would drown a browsing-only customer's cart categories in the best-sellers
BEST_SELLER_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def rank_score(pairs: pd.DataFrame, predicted: np.ndarray, best_seller_weight: float = 0.0) -> np.ndarray:
    """How the three offers are ranked: the category's share of the customer's predicted spend, plus its share of
    the recommender's best items for them, plus its share of their own past spend (or cart adds), plus the
    weighted share of the region's spend. Shares, so no signal's scale dominates; a tiny region term breaks ties
    (a customer with no signal gets the region's best-sellers)."""
    spend = pd.Series(predicted, index=pairs.index)
    spend_share = spend / spend.groupby(pairs["customer_id"]).transform("sum").replace(0.0, np.inf)
    recommended = pairs["recommended_share"] if "recommended_share" in pairs else 0.0
    region = (best_seller_weight + 1e-3) * pairs["region_share"]
    return (spend_share + recommended + pairs["affinity"] + region).to_numpy()


def choose_best_seller_weight(pairs: pd.DataFrame, after: pd.DataFrame) -> float:
    """The weight of the region's best-sellers that puts a category of the next order among the three offers most
    often, on the window before last (thin histories need more of it). The regressor's share is left out here: it
    learnt from that window."""
    zeros = np.zeros(len(pairs))
    rates = {w: next_purchase_hits(pairs, rank_score(pairs, zeros, w), after).mean() for w in BEST_SELLER_WEIGHTS}
    rates = {w: rate for w, rate in rates.items() if np.isfinite(rate)}
    return max(rates, key=lambda w: (rates[w], -w)) if rates else 0.0


def top3(pairs: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    ranked = pairs.assign(score=score).sort_values(["customer_id", "score", "category"], ascending=[True, False, True])
    return ranked.groupby("customer_id", sort=False).head(3)


def hit_rate(pairs: pd.DataFrame, score: np.ndarray) -> float | None:
    """Share of buyers in the window whose biggest category is among their top 3 by `score`."""
    buyers = pairs[pairs["target"] > 0]
    if buyers.empty:
        return None
    biggest = buyers.sort_values("target", ascending=False).drop_duplicates("customer_id")
    chosen = top3(pairs, score)
    hits = biggest.merge(chosen[["customer_id", "category"]], on=["customer_id", "category"])
    return round(len(hits) / len(biggest), 4)


def next_purchase_hits(pairs: pd.DataFrame, score: np.ndarray, after: pd.DataFrame) -> pd.Series:
    """Per customer of `pairs` who bought in `after`: whether their three offers by `score` hold a category of
    their next purchase (the first order after the cut-off)."""
    first = after[after["at"] == after.groupby("customer_id")["at"].transform("min")]
    bought = first.groupby("customer_id")["category"].agg(set)
    offered = top3(pairs, score).groupby("customer_id")["category"].agg(set)
    buyers = sorted(set(bought.index) & set(offered.index))
    return pd.Series([bool(bought[c] & offered[c]) for c in buyers], index=buyers, dtype=float)


def bootstrap_interval(values: np.ndarray, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of `values` over customers resampled with replacement."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(draws, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def next_purchase_report(pairs: pd.DataFrame, ranked: np.ndarray, after: pd.DataFrame) -> dict:
    """The offers against the region's three best-sellers on the same buyers, with the margin's interval."""
    offers = next_purchase_hits(pairs, ranked, after)
    best_sellers = next_purchase_hits(pairs, pairs["region_share"].to_numpy(), after).reindex(offers.index)
    if offers.empty:
        return {}
    margin = (offers - best_sellers).to_numpy()
    low, high = bootstrap_interval(margin)
    return {
        "next_purchase_buyers": len(offers),
        "next_purchase_hit_rate": round(float(offers.mean()), 4),
        "best_sellers_next_purchase_hit_rate": round(float(best_sellers.mean()), 4),
        "next_purchase_margin": round(float(margin.mean()), 4),
        "next_purchase_margin_low": round(low, 4),
        "next_purchase_margin_high": round(high, 4),
    }


def _errors(name: str, predicted, actual: pd.Series) -> dict:
    error = np.asarray(predicted, dtype=float) - actual.to_numpy()
    return {
        f"{name}_mae": round(float(np.mean(np.abs(error))), 4),
        f"{name}_rmse": round(float(np.sqrt(np.mean(error**2))), 4),
    }


def holdout_report(
    model, train: pd.DataFrame, test: pd.DataFrame, window_days: int, best_seller_weight: float = 0.0
) -> dict:
    """Errors of the model, of the naive forecast and of the training mean on the holdout window."""
    predicted = predict(model, test)
    history_days = test["days_since_first"].clip(lower=window_days, upper=NEVER_DAYS)
    naive = test["purchase_share"] * test["total_spend"] / history_days * window_days
    constant = np.full(len(test), train["target"].mean())
    return {
        "train_pairs": len(train),
        "holdout_pairs": len(test),
        "holdout_customers": int(test["customer_id"].nunique()),
        "holdout_buyers": int(test.loc[test["target"] > 0, "customer_id"].nunique()),
        **_errors("holdout", predicted, test["target"]),
        **_errors("naive", naive, test["target"]),
        **_errors("mean", constant, test["target"]),
        "top3_hit_rate": hit_rate(test, rank_score(test, predicted, best_seller_weight)),
        "popularity_top3_hit_rate": hit_rate(test, test["region_share"].to_numpy()),
    }


def train(activity: Activity, window_days: int) -> Trained:
    latest = activity.latest
    if latest is None:
        raise PromotionModelError("no purchases or browsing in the chosen regions")
    window = pd.Timedelta(days=window_days)
    train_pairs = pairs_at(activity, latest - 2 * window, window_days)
    test_pairs = pairs_at(activity, latest - window, window_days)
    for name, frame in (("before last", train_pairs), ("last", test_pairs)):
        if frame.empty or frame["target"].sum() <= 0:
            raise PromotionModelError(
                f"need purchases before and within the {name} {window_days}-day window to train and check the model"
            )
    params = recommender_params()
    purchases = activity.purchases
    train_pairs["recommended_share"] = recommended_share(purchases, train_pairs, latest - 2 * window, params)
    test_pairs["recommended_share"] = recommended_share(purchases, test_pairs, latest - window, params)
    weight = choose_best_seller_weight(train_pairs, _between(purchases, latest - 2 * window, latest - window))
    regressor = fit(train_pairs)
    report = holdout_report(regressor, train_pairs, test_pairs, window_days, weight)
    ranked = rank_score(test_pairs, predict(regressor, test_pairs), weight)
    report.update(next_purchase_report(test_pairs, ranked, _between(purchases, latest - window, latest)))
    return Trained(
        regressor=fit(test_pairs),
        holdout={**report, "best_seller_weight": weight},
        scoring_cutoff=latest + pd.Timedelta(seconds=1),
        params=params,
        best_seller_weight=weight,
    )


def _between(purchases: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Purchases in [start, end], the last moment included (the latest purchase ends the last window)."""
    return purchases[(purchases["at"] >= start) & (purchases["at"] <= end)]
