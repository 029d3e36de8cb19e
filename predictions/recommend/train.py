"""Fitting the recommender on the purchases before a cut-off (implicit's BM25 item-item and ALS)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import BM25Recommender
from implicit.utils import ParameterWarning
from threadpoolctl import threadpool_limits

from .interactions import InteractionError, before
from .model import SECONDS_PER_DAY, Params, Recommender
from .together import basket_counts

# one thread: the workers already run one task per core; implicit would otherwise start a pool per fit
THREADS = 1
# an item bought by fewer customers says too little about whether people buy it again
MIN_REPEAT_BUYERS = 5


def fit(
    purchases: pd.DataFrame, cutoff: pd.Timestamp, params: Params, *, names: dict | None = None, baskets: bool = False
) -> Recommender:
    """Fit on `purchases` strictly before `cutoff` (columns of interactions.COLUMNS); `baskets` also counts the
    pairs bought together (only the served model needs them, not the validation fits)."""
    past = before(purchases, cutoff)
    if past.empty:
        raise InteractionError(f"no purchases before the cut-off {cutoff.date()}")
    occasions = _occasions(past, cutoff, params)
    items = np.array(sorted(occasions["item"].unique()), dtype=object)
    item_index = {item: j for j, item in enumerate(items)}
    customers = sorted(occasions["customer_id"].unique())
    customer_index = {customer: i for i, customer in enumerate(customers)}
    rows = occasions["customer_id"].map(customer_index).to_numpy()
    cols = occasions["item"].map(item_index).to_numpy()
    shape = (len(customers), len(items))
    history = sp.csr_matrix((occasions["weight"].to_numpy(), (rows, cols)), shape=shape)
    days = sp.csr_matrix((np.ones(len(occasions)), (rows, cols)), shape=shape)
    bought = days.copy()
    bought.data[:] = 1.0
    with threadpool_limits(limits=THREADS):
        similarity = _neighbours(history, params)
        item_factors = _factors(history, params)
    popularity = _popularity(occasions, cutoff, params, item_index, len(items))
    buyers = np.asarray(bought.sum(axis=0)).ravel()
    repeat_buyers = np.asarray((days > 1).sum(axis=0)).ravel()
    return Recommender(
        params=params,
        items=items,
        item_index=item_index,
        customer_index=customer_index,
        history=history,
        bought=bought,
        similarity=similarity,
        item_factors=item_factors,
        popularity=popularity,
        buyers=buyers,
        co_buyers=(bought.T @ bought).tocsr(),
        repeat_items=(buyers >= MIN_REPEAT_BUYERS) & (repeat_buyers >= params.repeat_share * buyers),
        cutoff=cutoff,
        together=basket_counts(past, item_index) if baskets else None,
        names=dict(names or {}),
    )


def _occasions(past: pd.DataFrame, cutoff: pd.Timestamp, params: Params) -> pd.DataFrame:
    """One row per customer, item and purchase day, weighted by recency when a half-life is set."""
    days = past.assign(day=past["at"].dt.normalize()).drop_duplicates(["customer_id", "item", "day"])
    if params.half_life_days > 0:
        age = (cutoff - days["day"]).dt.total_seconds() / SECONDS_PER_DAY
        days = days.assign(weight=np.power(0.5, age / params.half_life_days))
    else:
        days = days.assign(weight=1.0)
    return days[["customer_id", "item", "day", "weight"]]


def _neighbours(history: sp.csr_matrix, params: Params) -> sp.csr_matrix:
    if not params.weight_neighbours:
        return sp.csr_matrix((history.shape[1], history.shape[1]))
    model = BM25Recommender(K=params.neighbours, K1=params.k1, B=params.b, num_threads=THREADS)
    with warnings.catch_warnings():
        # implicit's own BM25 weighting hands its k-NN step a COO matrix and then warns about it
        warnings.simplefilter("ignore", ParameterWarning)
        model.fit(history, show_progress=False)
    return model.similarity.tocsr().astype(np.float64)


def _factors(history: sp.csr_matrix, params: Params) -> np.ndarray | None:
    if not (params.weight_factors and params.factors):
        return None
    model = AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        iterations=params.iterations,
        random_state=0,
        num_threads=THREADS,
        use_gpu=False,
    )
    confidence = history.copy()
    confidence.data = 1.0 + params.alpha * confidence.data
    model.fit(confidence.astype(np.float32), show_progress=False)
    return np.asarray(model.item_factors, dtype=np.float64)


def _popularity(occasions, cutoff, params: Params, item_index: dict, n_items: int) -> np.ndarray:
    recent = occasions
    if params.popularity_days > 0:
        recent = occasions[occasions["day"] >= cutoff - pd.Timedelta(days=params.popularity_days)]
    counts = recent.drop_duplicates(["customer_id", "item"])["item"].value_counts()
    popularity = np.zeros(n_items)
    popularity[counts.index.map(item_index).to_numpy()] = counts.to_numpy()
    return popularity
