"""The recommender: a blend of item-item neighbours (BM25-weighted), implicit ALS factors and popularity.

Everything is learnt from purchases before a cut-off. A customer is scored from their own history (a
vector over items), so a customer who bought after training is scored without retraining: the neighbour
part multiplies the history by the item similarity, the factor part folds the history into the item
factors (one small least-squares solve), and popularity covers thin histories. Each part is scaled to
[0, 1] per customer before the weighted sum, so the weights are comparable whatever the catalogue size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .together import BasketCounts, Rule, Thresholds

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Params:
    neighbours: int = 50  # item-item: neighbours kept per item
    k1: float = 0.5  # BM25 saturation of a customer's count
    b: float = 0.5  # BM25 length normalisation
    factors: int = 64  # ALS latent factors (0 = no factor part)
    regularization: float = 0.1
    iterations: int = 15
    alpha: float = 1.0  # ALS confidence per purchase occasion
    weight_neighbours: float = 1.0
    weight_factors: float = 1.0
    weight_popularity: float = 0.0
    half_life_days: float = 0.0  # recency weighting of purchases (0 = every purchase counts the same)
    popularity_days: float = 0.0  # popularity over the last N days before the cut-off (0 = whole history)
    repeat_share: float = 0.5  # an item is a repeat item when this share of its buyers bought it on 2+ days
    min_history: int = 1  # fewer distinct items than this: popularity only

    def describe(self) -> dict:
        return asdict(self)


@dataclass
class Recommendation:
    item: str
    score: float
    reason: str
    source: str  # "history" or "popularity"


@dataclass
class Recommender:
    """A fitted recommender; picklable plain arrays only (stored as a model registry artifact)."""

    params: Params
    items: np.ndarray  # item code per column
    item_index: dict[str, int]
    customer_index: dict[str, int]
    history: sp.csr_matrix  # customers x items, recency-weighted purchase occasions
    bought: sp.csr_matrix  # customers x items, 1 where bought
    similarity: sp.csr_matrix  # items x items (neighbour part)
    item_factors: np.ndarray | None
    popularity: np.ndarray  # buyers per item (over the popularity window)
    buyers: np.ndarray  # buyers per item (whole history)
    co_buyers: sp.csr_matrix  # items x items: customers who bought both
    repeat_items: np.ndarray  # bool per item
    cutoff: pd.Timestamp
    together: BasketCounts | None = None
    names: dict[str, str] = field(default_factory=dict)

    # --- scoring -----------------------------------------------------------------------------------------
    def score_histories(self, history: sp.csr_matrix) -> np.ndarray:
        """Blended scores (rows of `history` x items); higher is better."""
        p = self.params
        total = np.zeros(history.shape, dtype=np.float64)
        if p.weight_neighbours:
            total += p.weight_neighbours * _scaled(np.asarray((history @ self.similarity).todense()))
        if p.weight_factors and self.item_factors is not None:
            users = fold_in(history, self.item_factors, p.regularization, p.alpha)
            total += p.weight_factors * _scaled(users @ self.item_factors.T)
        if p.weight_popularity or not (p.weight_neighbours or p.weight_factors):
            total += (p.weight_popularity or 1.0) * (self.popularity / max(self.popularity.max(), 1.0))[None, :]
        # a tiny popularity term breaks ties (e.g. a history with no neighbours) in a sensible order
        return total + 1e-6 * (self.popularity / max(self.popularity.max(), 1.0))[None, :]

    def history_of(self, customer_id: str) -> sp.csr_matrix | None:
        row = self.customer_index.get(str(customer_id))
        return None if row is None else self.history[row]

    def top_n(self, scores: np.ndarray, owned: np.ndarray, n: int, *, keep_repeats: bool) -> np.ndarray:
        """Column indices of the n best items of one score row, leaving out owned items (unless repeat items)."""
        scores = scores.astype(np.float64, copy=True)
        blocked = owned & ~self.repeat_items if keep_repeats else owned
        scores[blocked] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        best = np.argpartition(-scores, n - 1)[:n] if n else np.array([], dtype=int)
        return best[np.argsort(-scores[best], kind="stable")]

    def recommend(self, customer_id: str, n: int = 10, *, keep_repeats: bool = True) -> list[Recommendation]:
        history = self.history_of(customer_id)
        owned_count = 0 if history is None else history.nnz
        if history is None or owned_count < self.params.min_history:
            return self.popular(n)
        owned = np.zeros(len(self.items), dtype=bool)
        owned[history.indices] = True
        scores = self.score_histories(history)[0]
        best = self.top_n(scores, owned, n, keep_repeats=keep_repeats)
        return [
            Recommendation(self.items[j], float(scores[j]), self.reason(history.indices, j), "history") for j in best
        ]

    def popular(self, n: int = 10, *, exclude: set[str] | None = None) -> list[Recommendation]:
        order = np.argsort(-self.popularity, kind="stable")
        picks = [j for j in order if not exclude or self.items[j] not in exclude][:n]
        return [
            Recommendation(self.items[j], float(self.popularity[j]), self.popular_reason(j), "popularity")
            for j in picks
        ]

    # --- reasons -----------------------------------------------------------------------------------------
    def label(self, item: str) -> str:
        return self.names.get(item) or item

    def reason(self, owned: np.ndarray, column: int) -> str:
        """'bought with X by N customers' for the owned item that shares the most buyers with `column`."""
        together = np.asarray(self.co_buyers[owned, column].todense()).ravel() if len(owned) else np.array([])
        if together.size and together.max() > 0:
            anchor = owned[int(np.argmax(together))]
            count = int(together.max())
            noun = "customer" if count == 1 else "customers"
            return f"bought with {self.label(self.items[anchor])} by {count} {noun}"
        return self.popular_reason(column)

    def popular_reason(self, column: int) -> str:
        count = int(self.buyers[column])
        return f"popular: bought by {count} customer{'s' if count != 1 else ''}"

    # --- bought together ---------------------------------------------------------------------------------
    def bought_together(self, cart: list[str], n: int = 5, thresholds: Thresholds | None = None) -> list[Rule]:
        """Companions for the products of a cart (unknown products are ignored), best lift first."""
        if self.together is None:
            return []
        columns = [self.item_index[c] for c in {str(i).strip().upper() for i in cart} if c in self.item_index]
        return self.together.rules_for(columns, self.items, thresholds or Thresholds.from_settings())[:n]

    # --- item space --------------------------------------------------------------------------------------
    def similar_items(self, item: str, n: int = 10) -> list[tuple[str, float]]:
        """Items closest to `item` in the recommender's item space (factor cosine, else neighbour similarity)."""
        column = self.item_index.get(str(item).upper())
        if column is None:
            return []
        closeness = self.item_closeness(column)
        closeness[column] = -np.inf
        order = np.argsort(-closeness, kind="stable")[:n]
        return [(self.items[j], float(closeness[j])) for j in order if np.isfinite(closeness[j])]

    def item_closeness(self, column: int) -> np.ndarray:
        if self.item_factors is not None:
            vectors = self.item_factors
            norms = np.linalg.norm(vectors, axis=1) * max(np.linalg.norm(vectors[column]), 1e-12)
            return (vectors @ vectors[column]) / np.maximum(norms, 1e-12)
        return np.asarray(self.similarity[column].todense()).ravel().astype(np.float64)


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Each row to [0, 1] (min-max); a flat row becomes zeros."""
    low = scores.min(axis=1, keepdims=True)
    span = scores.max(axis=1, keepdims=True) - low
    return np.where(span > 0, (scores - low) / np.where(span > 0, span, 1.0), 0.0)


def fold_in(history: sp.csr_matrix, item_factors: np.ndarray, regularization: float, alpha: float) -> np.ndarray:
    """Customer factors for histories, solving the ALS least squares against fixed item factors (the same
    normal equations implicit's ALS solves for a user: confidence 1 + alpha*r on bought items)."""
    k = item_factors.shape[1]
    gram = item_factors.T @ item_factors
    out = np.zeros((history.shape[0], k), dtype=np.float64)
    for row in range(history.shape[0]):
        start, end = history.indptr[row], history.indptr[row + 1]
        if start == end:
            continue
        cols, values = history.indices[start:end], history.data[start:end]
        vectors = item_factors[cols]
        confidence = alpha * values
        a = gram + (vectors.T * confidence) @ vectors + regularization * np.eye(k)
        out[row] = np.linalg.solve(a, vectors.T @ (1.0 + confidence))
    return out
