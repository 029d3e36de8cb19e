"""The recommender's view of each customer's categories, for ranking the weekly offers.

At a cut-off, the recommender (the active version's settings, or the defaults when none is active) is fitted on
the purchases before it; each customer's best items (bought ones included: a promotion may well be for a
category they buy again) are grouped into categories, and the category's share of those items' scores is the
customer's `recommended_share` of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictions import registry
from predictions.models import Kind
from predictions.recommend.interactions import InteractionError
from predictions.recommend.model import Params
from predictions.recommend.train import fit

TOP_ITEMS = 30  # items per customer whose scores are spread over their categories
CHUNK = 2000  # customers scored at once (a dense customers x items block)


def recommender_params() -> Params:
    version = registry.active_version(Kind.RECOMMENDATION)
    return registry.load_version(version).params if version else Params()


def recommended_share(purchases: pd.DataFrame, pairs: pd.DataFrame, cutoff: pd.Timestamp, params: Params) -> pd.Series:
    """`recommended_share` for every row of `pairs` (customer_id, category); 0 where the recommender has nothing."""
    frame = _interactions(purchases)
    try:
        model = fit(frame, _naive(cutoff), params)
    except InteractionError:
        return pd.Series(0.0, index=pairs.index)
    category_of_item = purchases.assign(item=purchases["sku"].str.upper()).drop_duplicates("item")
    category = category_of_item.set_index("item")["category"].reindex(model.items).to_numpy()
    customers = [c for c in pairs["customer_id"].unique() if str(c) in model.customer_index]
    shares = [_shares(model, category, customers[i : i + CHUNK]) for i in range(0, len(customers), CHUNK)]
    if not shares:
        return pd.Series(0.0, index=pairs.index)
    table = pd.concat(shares, ignore_index=True)
    merged = pairs[["customer_id", "category"]].merge(table, on=["customer_id", "category"], how="left")
    return pd.Series(merged["recommended_share"].fillna(0.0).to_numpy(), index=pairs.index)


def _shares(model, category: np.ndarray, customers: list) -> pd.DataFrame:
    scores = model.score_histories(model.history[[model.customer_index[str(c)] for c in customers]])
    n = min(TOP_ITEMS, scores.shape[1])
    best = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    rows = []
    for i, customer in enumerate(customers):
        weights = pd.Series(scores[i, best[i]]).groupby(category[best[i]]).sum()
        total = weights.sum()
        if total > 0:
            rows.extend((customer, cat, value / total) for cat, value in weights.items())
    return pd.DataFrame(rows, columns=["customer_id", "category", "recommended_share"])


def _interactions(purchases: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": purchases["customer_id"].astype(str),
            "item": purchases["sku"].astype(str).str.upper(),
            "at": _naive(purchases["at"]),
            "invoice": "",
            "quantity": 1.0,
        }
    ).dropna(subset=["at"])


def _naive(moment):
    """The recommender works in naive UTC."""
    if isinstance(moment, pd.Series):
        return moment.dt.tz_convert(None) if moment.dt.tz is not None else moment
    return moment.tz_convert(None) if moment.tzinfo is not None else moment
