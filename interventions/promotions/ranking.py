"""How the three weekly offers are ranked, and how the ranking is checked.

The ranker is a classifier of "this category is in the customer's next order", learnt on the windows before the
cut-off (`model.RANKER_WINDOWS`): for every customer who bought in such a window, each candidate category of theirs
is a row with the promotion features as of the window's start (RFM, browsing, their own affinity to the category,
the region's share of spend in it), the category's share of the recommender's best items for them, and the
category's expected response to the offer's discount from the price response; the label says whether their first
order in the window held the category. The offers are the three categories with the highest probability. How much
each signal counts (the best-sellers against the customer's own history, the recommender, the price response) is
thus learnt on earlier windows, never on the window the offers are checked on. A history too thin to learn from
(fewer than MIN_BUYERS buyers, or every label the same) ranks by the region's best-sellers and the customer's own
affinity.

The check: on the buyers of the window after the cut-off, how often the three offers hold a category of the
buyer's next order, against the region's three best-sellers for the same buyers, with a paired bootstrap
interval of the difference. When the offers did worse there, the week's offers are the best-sellers
(`choose_ranking`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from interventions.promotions.features import FEATURES
from predictions.price_response.model import PriceResponseError, estimate, product_periods

RANK_FEATURES = [*FEATURES, "purchase_share", "browse_share", "recommended_share", "price_response"]
# shallow trees with large leaves and a penalty: a few hundred buyers per window, most categories not bought
RANKER_PARAMS = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 50,
    "l2_regularization": 1.0,
    "random_state": 0,
}
# Deeper discounts where the customer has less history with the category (documented on the page).
DISCOUNT_BY_RELATION = {"bought": 0.05, "browsed": 0.10, "new": 0.15}
ELASTICITY_RANGE = (-5.0, 0.0)  # a rising demand curve in a short history is noise, not a Giffen good
MIN_BUYERS = 20
# one thread: the workers already run one task per core, and OpenMP threads fighting over busy cores are many
# times slower than one
THREADS = 1  # fewer buyers in the window before: too few to learn the weights from


def price_response(purchases: pd.DataFrame, pairs: pd.DataFrame, cutoff: pd.Timestamp) -> pd.Series:
    """Per row of `pairs`: the expected relative change of what the customer buys in the category under the
    offer's discount, (1 - d) ** e - 1, with `e` the category's own-price elasticity estimated from the purchases
    before the cut-off (0 where the history cannot give one)."""
    past = purchases[purchases["at"] < cutoff]
    lines = past.rename(columns={"sku": "product"})
    try:
        found = estimate(product_periods(lines), per_product=False)
    except (PriceResponseError, KeyError):
        return pd.Series(0.0, index=pairs.index)
    elasticity = pd.Series({e.key: float(np.clip(e.elasticity, *ELASTICITY_RANGE)) for e in found})
    e = pairs["category"].map(elasticity).fillna(0.0).to_numpy()
    discount = pairs["relation"].map(DISCOUNT_BY_RELATION).fillna(0.0).to_numpy()
    return pd.Series(np.power(1.0 - discount, e) - 1.0, index=pairs.index)


def next_order_labels(pairs: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The rows of `pairs` whose customer bought in `after`, with `label` 1 when their first order there held the
    category."""
    first = after[after["at"] == after.groupby("customer_id")["at"].transform("min")]
    bought = first[["customer_id", "category"]].drop_duplicates().assign(label=1)
    buyers = pairs[pairs["customer_id"].isin(set(first["customer_id"]))]
    labelled = buyers.merge(bought, on=["customer_id", "category"], how="left")
    return labelled.assign(label=labelled["label"].fillna(0).astype(int))


def _features(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs.reindex(columns=RANK_FEATURES).astype(float).fillna(0.0)


def fit_ranker(labelled: pd.DataFrame) -> HistGradientBoostingClassifier | None:
    """The classifier learnt on `next_order_labels` rows; None when they are too few to learn from."""
    if labelled.empty or len(labelled.drop_duplicates("customer_id")) < MIN_BUYERS or labelled["label"].nunique() < 2:
        return None
    with threadpool_limits(limits=THREADS):
        return HistGradientBoostingClassifier(**RANKER_PARAMS).fit(_features(labelled), labelled["label"])


def rank_score(pairs: pd.DataFrame, ranker) -> np.ndarray:
    """Probability that the category is in the customer's next order; a tiny region term breaks ties (a customer
    with no signal gets the region's best-sellers)."""
    tie = 1e-6 * pairs["region_share"].to_numpy()
    if ranker is None:
        return pairs["affinity"].to_numpy() + pairs["region_share"].to_numpy() + tie
    with threadpool_limits(limits=THREADS):
        return ranker.predict_proba(_features(pairs))[:, 1] + tie


RANKED_BY_MODEL = "model"
RANKED_BY_BEST_SELLERS = "best-sellers"


def choose_ranking(report: dict) -> str:
    """The gate: the region's best-sellers when the learnt ranking's offers held the buyers' next category less
    often than the best-sellers on the holdout (a negative margin), else the learnt ranking."""
    margin = report.get("next_purchase_margin")
    return RANKED_BY_BEST_SELLERS if margin is not None and margin < 0 else RANKED_BY_MODEL


def offer_score(pairs: pd.DataFrame, ranker, ranked_by: str) -> np.ndarray:
    """What the week's offers are ranked by: the learnt ranking, or the region's share of spend (best-sellers)."""
    if ranked_by == RANKED_BY_BEST_SELLERS:
        return pairs["region_share"].to_numpy()
    return rank_score(pairs, ranker)


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


def _compared(offers: pd.Series, best_sellers: pd.Series) -> dict:
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


def _region_key(region) -> str:
    """A region id as a JSON key ("3", not "3.0"); a region named in a file keeps its name."""
    if isinstance(region, (int, float, np.integer, np.floating)) and float(region).is_integer():
        return str(int(region))
    return str(region)


def next_purchase_report(pairs: pd.DataFrame, ranked: np.ndarray, after: pd.DataFrame) -> dict:
    """The offers against the region's three best-sellers on the same buyers, with the paired interval of the
    difference (each resample draws buyers, and both hit rates are read on the same draw); `by_region` holds the
    same figures per region id of the buyers (so each region's people read their own region's check)."""
    offers = next_purchase_hits(pairs, ranked, after)
    best_sellers = next_purchase_hits(pairs, pairs["region_share"].to_numpy(), after).reindex(offers.index)
    if offers.empty:
        return {}
    report = _compared(offers, best_sellers)
    region_of = pairs.drop_duplicates("customer_id").set_index("customer_id")["region_id"].reindex(offers.index)
    report["by_region"] = {
        _region_key(region): _compared(offers[region_of == region], best_sellers[region_of == region])
        for region in sorted(region_of.dropna().unique())
    }
    return report
