"""Frequently bought together at product level: support, confidence and lift of product pairs in baskets.

A basket is an invoice (an order), or a customer's purchases of one day when the export has no invoice column.
Pairs are counted once per basket. For a cart, the companions of its products are ranked by lift, keeping
pairs seen in at least `min_baskets` baskets with at least `min_confidence` and `min_lift` (settings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from django.conf import settings


@dataclass(frozen=True)
class Rule:
    item: str  # the product in the cart
    companion: str
    baskets: int  # baskets holding both
    support: float  # share of all baskets holding both
    confidence: float  # share of the item's baskets that hold the companion
    lift: float  # confidence over the companion's share of all baskets

    def as_dict(self) -> dict:
        return {
            "item": self.item,
            "companion": self.companion,
            "baskets": self.baskets,
            "support": round(self.support, 5),
            "confidence": round(self.confidence, 4),
            "lift": round(self.lift, 2),
        }


@dataclass(frozen=True)
class Thresholds:
    min_baskets: int = 3
    min_confidence: float = 0.05
    min_lift: float = 1.5

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            min_baskets=int(getattr(settings, "BOUGHT_TOGETHER_MIN_BASKETS", cls.min_baskets)),
            min_confidence=float(getattr(settings, "BOUGHT_TOGETHER_MIN_CONFIDENCE", cls.min_confidence)),
            min_lift=float(getattr(settings, "BOUGHT_TOGETHER_MIN_LIFT", cls.min_lift)),
        )


@dataclass
class BasketCounts:
    pairs: sp.csr_matrix  # items x items: baskets holding both (diagonal: baskets holding the item)
    baskets: int

    def rules_for(self, columns: list[int], items: np.ndarray, thresholds: Thresholds) -> list[Rule]:
        """Companions of the products at `columns` (a cart), best lift first; cart products are not companions."""
        in_cart = set(columns)
        best: dict[int, Rule] = {}
        singles = self.pairs.diagonal()
        for column in columns:
            row = self.pairs[column]
            for companion, together in zip(row.indices, row.data, strict=True):
                if companion in in_cart or together < thresholds.min_baskets or singles[column] == 0:
                    continue
                confidence = together / singles[column]
                lift = confidence / (singles[companion] / self.baskets)
                if confidence < thresholds.min_confidence or lift < thresholds.min_lift:
                    continue
                rule = Rule(items[column], items[companion], int(together), together / self.baskets, confidence, lift)
                if companion not in best or (rule.lift, rule.baskets) > (best[companion].lift, best[companion].baskets):
                    best[companion] = rule
        return sorted(best.values(), key=lambda r: (-r.lift, -r.baskets, r.companion))


def basket_counts(purchases: pd.DataFrame, item_index: dict[str, int]) -> BasketCounts:
    invoice = purchases["invoice"].astype(str)
    no_invoice = invoice.str.strip().isin(["", "nan", "None"])
    day = purchases["customer_id"].astype(str) + "|" + purchases["at"].dt.strftime("%Y-%m-%d")
    basket = invoice.where(~no_invoice, "day:" + day)
    frame = pd.DataFrame({"basket": basket, "item": purchases["item"].map(item_index)}).dropna().drop_duplicates()
    codes, _ = pd.factorize(frame["basket"])
    matrix = sp.csr_matrix(
        (np.ones(len(frame)), (codes, frame["item"].astype(int).to_numpy())),
        shape=(int(codes.max()) + 1 if len(codes) else 0, len(item_index)),
    )
    return BasketCounts(pairs=(matrix.T @ matrix).tocsr(), baskets=max(matrix.shape[0], 1))
