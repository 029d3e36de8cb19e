"""How good the recommendations are, measured on purchases after a cut-off that no fitting has seen.

Protocol: fit on purchases before the cut-off; evaluate, for every customer who bought on both sides, the
items they bought after the cut-off that they had not bought before (already bought items are never
recommended here). recall@k is hits / min(k, relevant items) and ndcg@k uses binary gains, averaged over
customers. Hyper-parameters are chosen on an earlier validation cut-off inside the training period (the
moment before which a share of the training purchases happened), with the same protocol; the evaluated
period is never looked at to choose anything.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .interactions import InteractionError, before, between
from .model import Params, Recommender
from .train import fit

# two validation cut-offs inside the training period: the moments before which 60 % and 75 % of the training
# purchases happened; one alone (about 140 customers here) is too noisy to choose between close settings
VALIDATION_SHARES = (0.6, 0.75)
MIN_VALIDATION_USERS = 20


@dataclass
class Split:
    train: pd.DataFrame
    targets: dict[str, set[str]]  # customer -> new items bought after the cut-off


@dataclass
class Scorecard:
    users: int
    recall_at_k: float
    ndcg_at_k: float

    def as_dict(self) -> dict:
        return {"users": self.users, "recall_at_k": round(self.recall_at_k, 4), "ndcg_at_k": round(self.ndcg_at_k, 4)}


def split(purchases: pd.DataFrame, cutoff: pd.Timestamp, end: pd.Timestamp | None = None) -> Split:
    train = before(purchases, cutoff)
    after = between(purchases, cutoff, end)
    owned = train.groupby("customer_id")["item"].agg(set)
    targets = {}
    for customer, items in after.groupby("customer_id")["item"].agg(set).items():
        if customer in owned.index and (new := items - owned[customer]):
            targets[customer] = new
    return Split(train=train, targets=targets)


def ranking_metrics(recommended: dict[str, list[str]], targets: dict[str, set[str]], k: int) -> Scorecard:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recalls, ndcgs = [], []
    for customer, relevant in targets.items():
        hits = np.array([item in relevant for item in recommended.get(customer, [])[:k]], dtype=float)
        ideal = discounts[: min(k, len(relevant))].sum()
        recalls.append(hits.sum() / min(k, len(relevant)))
        ndcgs.append(float((hits * discounts[: len(hits)]).sum() / ideal))
    if not recalls:
        return Scorecard(0, 0.0, 0.0)
    return Scorecard(len(recalls), float(np.mean(recalls)), float(np.mean(ndcgs)))


def recommend_for_targets(model: Recommender, targets: dict[str, set[str]], k: int) -> dict[str, list[str]]:
    """Top-k new items (nothing the customer bought before the cut-off) for every evaluated customer."""
    customers = [c for c in targets if c in model.customer_index]
    if not customers:
        return {}
    rows = [model.customer_index[c] for c in customers]
    history = model.history[rows]
    scores = model.score_histories(history)
    owned = model.bought[rows].toarray() > 0
    return {
        customer: [model.items[j] for j in model.top_n(scores[i], owned[i], k, keep_repeats=False)]
        for i, customer in enumerate(customers)
    }


def score(purchases: pd.DataFrame, cutoff: pd.Timestamp, params: Params, k: int, end=None) -> Scorecard:
    data = split(purchases, cutoff, end)
    model = fit(data.train, cutoff, params)
    return ranking_metrics(recommend_for_targets(model, data.targets, k), data.targets, k)


# --- choosing hyper-parameters on the validation cut-off ------------------------------------------------------
POPULARITY = Params(weight_neighbours=0.0, weight_factors=0.0, weight_popularity=1.0)
NEIGHBOUR_GRID = {"neighbours": [20, 50, 200], "k1": [0.5, 1.2], "b": [0.25, 0.75]}
FACTOR_GRID = {"factors": [32, 64], "regularization": [0.1, 1.0], "alpha": [1.0, 5.0]}
WEIGHT_GRID = {"weight_factors": [0.0, 0.5, 1.0, 2.0], "weight_popularity": [0.0, 0.1, 0.3]}
RECENCY_GRID = {"half_life_days": [0.0, 30.0, 90.0], "popularity_days": [0.0, 14.0]}
DEFAULT_STAGES = [NEIGHBOUR_GRID, FACTOR_GRID, WEIGHT_GRID, RECENCY_GRID, WEIGHT_GRID]
NEIGHBOUR_ONLY = Params(weight_factors=0.0)
NEIGHBOUR_STAGES = [NEIGHBOUR_GRID, RECENCY_GRID]


def validation_cutoff(train: pd.DataFrame, share: float) -> pd.Timestamp:
    """The day before which `share` of the training purchases happened (adapts to weeks the shop was closed)."""
    if train.empty:
        raise InteractionError("no purchases before the cut-off")
    return pd.Timestamp(train["at"].quantile(share)).normalize()


@dataclass
class Choice:
    params: Params
    validation_cutoffs: list[pd.Timestamp]
    validation: Scorecard  # mean over the validation cut-offs (users: summed)
    tried: int


def _objective(card: Scorecard) -> float:
    return card.recall_at_k + card.ndcg_at_k


def choose(train: pd.DataFrame, k: int, *, base: Params | None = None, stages: list[dict] | None = None) -> Choice:
    """Coordinate search over the grids on the validation cut-offs: each stage tries its grid around the best so
    far. Only `train` (purchases before the evaluated cut-off) is seen."""
    folds = _validation_folds(train)
    base = base or Params()
    best, best_card, tried = base, _validate(folds, base, k), 1
    for grid in stages if stages is not None else DEFAULT_STAGES:
        for values in itertools.product(*grid.values()):
            candidate = replace(best, **dict(zip(grid, values, strict=True)))
            if candidate == best:
                continue
            card, tried = _validate(folds, candidate, k), tried + 1
            if _objective(card) > _objective(best_card) + 1e-9:
                best, best_card = candidate, card
    return Choice(params=best, validation_cutoffs=[cut for cut, _ in folds], validation=best_card, tried=tried)


def choose_model(train: pd.DataFrame, k: int) -> Choice:
    """The model to serve: the blend's search and the item-item search, each on the same validation cut-offs, and
    whichever scores higher there (the blend when they tie). Neither search sees the evaluated period, so a blend
    that cannot beat plain neighbours on the validation cut-offs gives way to them."""
    return better_of(choose(train, k), choose_neighbours(train, k))


def better_of(blend: Choice, neighbours: Choice) -> Choice:
    if _objective(neighbours.validation) > _objective(blend.validation) + 1e-9:
        return replace(neighbours, tried=blend.tried + neighbours.tried)
    return replace(blend, tried=blend.tried + neighbours.tried)


def choose_neighbours(train: pd.DataFrame, k: int) -> Choice:
    return choose(train, k, base=NEIGHBOUR_ONLY, stages=NEIGHBOUR_STAGES)


def describe_algorithm(params: Params) -> str:
    parts = [
        name
        for name, weight in (
            ("BM25 item-item", params.weight_neighbours),
            ("implicit ALS", params.weight_factors and params.factors),
            ("popularity", params.weight_popularity),
        )
        if weight
    ]
    return " + ".join(parts) if len(parts) > 1 else f"{parts[0] if parts else 'popularity'} alone"


def _validation_folds(train: pd.DataFrame) -> list[tuple[pd.Timestamp, Split]]:
    folds = []
    for share in VALIDATION_SHARES:
        cut = validation_cutoff(train, share)
        data = split(train, cut)
        if len(data.targets) < MIN_VALIDATION_USERS:
            raise InteractionError(
                f"only {len(data.targets)} customers bought new items after the validation cut-off {cut.date()}; "
                f"at least {MIN_VALIDATION_USERS} are needed to choose the settings (give a longer history)"
            )
        folds.append((cut, data))
    return folds


def _validate(folds: list[tuple[pd.Timestamp, Split]], params: Params, k: int) -> Scorecard:
    cards = []
    for cut, data in folds:
        model = fit(data.train, cut, params)
        cards.append(ranking_metrics(recommend_for_targets(model, data.targets, k), data.targets, k))
    return Scorecard(
        users=sum(card.users for card in cards),
        recall_at_k=float(np.mean([card.recall_at_k for card in cards])),
        ndcg_at_k=float(np.mean([card.ndcg_at_k for card in cards])),
    )


def evaluate(purchases: pd.DataFrame, cutoff: pd.Timestamp, k: int = 10) -> dict:
    """The blended model and the popularity and item-item baselines on the same split; settings of the model and
    of the item-item baseline are chosen on the validation cut-offs before `cutoff`."""
    data = split(purchases, cutoff)
    if not data.targets:
        raise InteractionError(
            f"no customer bought new items both before and after {cutoff.date()}; choose a cut-off inside the data"
        )
    neighbours = choose_neighbours(data.train, k)
    chosen = better_of(choose(data.train, k), neighbours)
    test = {
        name: ranking_metrics(recommend_for_targets(fit(data.train, cutoff, params), data.targets, k), data.targets, k)
        for name, params in (("model", chosen.params), ("item_item", neighbours.params), ("popularity", POPULARITY))
    }
    return {
        "users": test["model"].users,
        "recall_at_k": round(test["model"].recall_at_k, 4),
        "ndcg_at_k": round(test["model"].ndcg_at_k, 4),
        "k": k,
        "cutoff": cutoff.date().isoformat(),
        "model": {
            "algorithm": describe_algorithm(chosen.params),
            "params": chosen.params.describe(),
            "validation_cutoffs": [cut.date().isoformat() for cut in chosen.validation_cutoffs],
            "validation": chosen.validation.as_dict(),
            "settings_tried": chosen.tried,
        },
        "baselines": {
            "popularity": test["popularity"].as_dict(),
            "item_item": {**test["item_item"].as_dict(), "params": _neighbour_params(neighbours.params)},
        },
    }


def _neighbour_params(params: Params) -> dict:
    keys = ("neighbours", "k1", "b", "half_life_days", "popularity_days")
    return {key: getattr(params, key) for key in keys}
