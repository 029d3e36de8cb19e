"""Cheaper or house-brand alternatives: products of the same category, close in the recommender's item space,
with a lower price or the house-brand flag.

The category is the product's own; a catalogue without categories is grouped by the first three characters of
the sku (the convention of the weekly promotions), so that an alternative is at least a product of the same
family. Closeness is the cosine of the item factors (or the neighbour similarity without factors); a product
that no customer bought near the original has no closeness and is never offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Recommender


@dataclass(frozen=True)
class CatalogueEntry:
    sku: str
    name: str
    category: str
    price: float | None
    house_brand: bool


@dataclass(frozen=True)
class Alternative:
    sku: str
    name: str
    price: float | None
    house_brand: bool
    closeness: float
    saving: float | None  # price of the original minus this price (None when a price is unknown)
    reason: str


def family(entry: CatalogueEntry) -> str:
    return entry.category or f"code {entry.sku[:3]}"


def alternatives(
    model: Recommender, sku: str, catalogue: dict[str, CatalogueEntry], n: int = 3, *, min_closeness: float = 0.05
) -> list[Alternative]:
    """Alternatives to `sku`, closest first: same family, and cheaper or house brand (the original not being
    house brand itself when only the flag qualifies)."""
    original = catalogue.get(sku.upper())
    column = model.item_index.get(sku.upper())
    if original is None or column is None:
        return []
    closeness = model.item_closeness(column)
    found = []
    for other, j in model.item_index.items():
        entry = catalogue.get(other)
        if entry is None or other == original.sku or family(entry) != family(original):
            continue
        score = float(closeness[j])
        cheaper = _cheaper(entry, original)
        own_brand = entry.house_brand and not original.house_brand
        if score >= min_closeness and np.isfinite(score) and (cheaper or own_brand):
            found.append(_alternative(entry, original, score, own_brand))
    return sorted(found, key=lambda a: (-a.closeness, a.sku))[:n]


def _cheaper(entry: CatalogueEntry, original: CatalogueEntry) -> bool:
    return entry.price is not None and original.price is not None and entry.price < original.price


def _alternative(entry: CatalogueEntry, original: CatalogueEntry, closeness: float, own_brand: bool) -> Alternative:
    saving = None if entry.price is None or original.price is None else round(original.price - entry.price, 2)
    parts = ["our own brand" if own_brand else "", f"{saving:.2f} cheaper" if saving and saving > 0 else ""]
    what = " and ".join(p for p in parts if p)
    reason = f"{what}, bought by customers like those who buy {original.name or original.sku}"
    return Alternative(entry.sku, entry.name, entry.price, entry.house_brand, round(closeness, 4), saving, reason)
