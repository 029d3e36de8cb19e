"""The promotion regressor and the check at a cut-off.

The regressor: predicted spend of a customer in a category over the next window (each offer's predicted order
value), from the frames of `features`. A tree ensemble (scikit-learn's histogram gradient boosting, Poisson loss
because spend is non-negative and mostly zero) with fixed parameters.

`check(activity, cutoff, ...)`, one code path for the portal's weekly job and for `evaluate_promotions`: the
regressor is fitted on the window before the cut-off and the ranker (`ranking`) on the windows before it; as of the
cut-off, the report gives mean absolute and root-mean-square error against a naive forecast (the customer's past
spend rate in the category) and against the training mean, the top-3 hit rate of the buyer's biggest category, and
how often the three offers hold a category of the buyer's next order against the region's three best-sellers. The
weekly job checks with the last window as the holdout, then fits what writes the offers one window later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from cartportal.errors import AppError
from interventions.promotions import ranking
from interventions.promotions.features import FEATURES, NEVER_DAYS, Activity, pairs_at
from interventions.promotions.ranking import (
    THREADS,
    fit_ranker,
    hit_rate,
    next_order_labels,
    next_purchase_report,
    price_response,
    rank_score,
)
from interventions.promotions.recommended import recommended_share, recommender_params
from predictions.recommend.model import Params

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
    ranker: object = None  # ranking.fit_ranker's classifier (None: best-sellers and own affinity)
    ranked_by: str = ranking.RANKED_BY_MODEL  # or ranking.RANKED_BY_BEST_SELLERS: the gate of `train`


def fit(pairs: pd.DataFrame) -> HistGradientBoostingRegressor:
    with threadpool_limits(limits=THREADS):
        return HistGradientBoostingRegressor(**PARAMS).fit(pairs[FEATURES], pairs["target"])


def predict(regressor, pairs: pd.DataFrame) -> np.ndarray:
    with threadpool_limits(limits=THREADS):
        return np.clip(regressor.predict(pairs[FEATURES]), 0.0, None)


def _errors(name: str, predicted, actual: pd.Series) -> dict:
    error = np.asarray(predicted, dtype=float) - actual.to_numpy()
    return {
        f"{name}_mae": round(float(np.mean(np.abs(error))), 4),
        f"{name}_rmse": round(float(np.sqrt(np.mean(error**2))), 4),
    }


def holdout_report(model, train: pd.DataFrame, test: pd.DataFrame, window_days: int, ranker=None) -> dict:
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
        "top3_hit_rate": hit_rate(test, rank_score(test, ranker)),
        "popularity_top3_hit_rate": hit_rate(test, test["region_share"].to_numpy()),
    }


@dataclass
class Checked:
    """The ranking recipe checked at a cut-off: the report, and what the offers are ranked with."""

    report: dict
    params: Params
    pairs: pd.DataFrame  # the pairs as of the cut-off, with the target of the window after it


def ranking_inputs(activity: Activity, pairs: pd.DataFrame, cutoff: pd.Timestamp, params: Params) -> pd.DataFrame:
    """The recommender's and the price response's columns of `pairs` as of `cutoff` (from purchases before it)."""
    purchases = activity.purchases
    return pairs.assign(
        recommended_share=recommended_share(purchases, pairs, cutoff, params),
        price_response=price_response(purchases, pairs, cutoff),
    )


RANKER_WINDOWS = 3  # windows before the cut-off the ranker learns from (one odd week, e.g. a closed shop, is diluted)


def ranker_before(activity: Activity, cutoff: pd.Timestamp, window_days: int, params: Params):
    """The ranker learnt on up to RANKER_WINDOWS windows ending at `cutoff`: each window's pairs as of its start,
    labelled with its orders. Nothing at or after `cutoff` is read."""
    window = pd.Timedelta(days=window_days)
    labelled = []
    for back in range(1, RANKER_WINDOWS + 1):
        start = cutoff - back * window
        pairs = pairs_at(activity, start)
        if pairs.empty:
            break
        after = activity.purchases[(activity.purchases["at"] >= start) & (activity.purchases["at"] < start + window)]
        labelled.append(next_order_labels(ranking_inputs(activity, pairs, start, params), after))
    return fit_ranker(pd.concat(labelled, ignore_index=True) if labelled else pd.DataFrame())


def check(activity: Activity, cutoff: pd.Timestamp, window_days: int, params: Params) -> Checked:
    """Fit the regressor on the window before `cutoff` and the ranker on the windows before it; rank as of
    `cutoff` and compare the offers with the region's best-sellers on the buyers of the window after it. The
    window after the cut-off is only read for the comparison."""
    window = pd.Timedelta(days=window_days)
    train_pairs = pairs_at(activity, cutoff - window, window_days)
    test_pairs = pairs_at(activity, cutoff, window_days)
    for name, frame in (("before", train_pairs), ("after", test_pairs)):
        if frame.empty or frame["target"].sum() <= 0:
            raise PromotionModelError(
                f"need purchases before and within the {window_days}-day window {name} {cutoff.date()} "
                "to train and check the model"
            )
    test_pairs = ranking_inputs(activity, test_pairs, cutoff, params)
    ranker = ranker_before(activity, cutoff, window_days, params)
    after = _between(activity.purchases, cutoff, cutoff + window)
    report = holdout_report(fit(train_pairs), train_pairs, test_pairs, window_days, ranker)
    report.update(next_purchase_report(test_pairs, rank_score(test_pairs, ranker), after))
    report["ranker"] = "learnt on the windows before" if ranker is not None else "best-sellers and own affinity"
    return Checked(report, params, test_pairs)


# How many windows back from the latest purchase the holdout may step when the last one checks nothing.
CHECK_WINDOWS_BACK = 4


def train(activity: Activity, window_days: int) -> Trained:
    """Check the recipe with the last window of purchases as the holdout (browsing may go on after the latest order
    in the export: a window without orders checks nothing), then fit the regressor and the ranker that write the
    offers with the same recipe as of the latest activity (the last window included).

    When the last window's orders hold no category any customer could have been offered (a shop whose latest
    orders are all of a product line new in that window, or a gap of more than a window before them), the holdout
    steps back one window at a time, up to CHECK_WINDOWS_BACK; the report says which window it checked.

    The gate: when the ranking did worse than the region's three best-sellers on that holdout (its offers held a
    category of the buyer's next order less often), the offers are the best-sellers instead, and the report says
    so (`ranked_by`); a shop is never sent offers that were measured to do worse than the plain alternative."""
    latest, bought = activity.latest, activity.latest_purchase
    if latest is None or bought is None:
        raise PromotionModelError("no purchases in the chosen regions: import orders first (Data tab)")
    params, window = recommender_params(), pd.Timedelta(days=window_days)
    checked, first_error = None, None
    for back in range(1, CHECK_WINDOWS_BACK + 1):
        try:
            checked = check(activity, bought - back * window, window_days, params)
        except PromotionModelError as exc:
            first_error = first_error or exc
            continue
        checked.report["holdout_windows_back"] = back
        break
    if checked is None:
        raise first_error
    ranked_by = ranking.choose_ranking(checked.report)
    checked.report["ranked_by"] = ranked_by
    scoring_cutoff = latest + pd.Timedelta(seconds=1)
    ranker = None
    if ranked_by == ranking.RANKED_BY_MODEL:
        ranker = ranker_before(activity, scoring_cutoff, window_days, checked.params)
    return Trained(
        regressor=fit(checked.pairs),
        holdout=checked.report,
        scoring_cutoff=scoring_cutoff,
        params=checked.params,
        ranker=ranker,
        ranked_by=ranked_by,
    )


def _between(purchases: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Purchases in [start, end], the last moment included (the latest purchase ends the last window)."""
    return purchases[(purchases["at"] >= start) & (purchases["at"] <= end)]
