"""Elasticities of the regions a user may see, estimated from their order lines.

The estimate is a rollup (cartportal.pages.rollups): kept per region scope in the cache and in PostgreSQL, made
stale by new data (a new order or order line, or five minutes, for lines changed in place). A quick estimate (a small
shop) is refitted in the request that finds it stale; a slow one (seconds on a shop of a million customers) is served
as it was and refitted by a task, so neither a page nor a restart of the cache server waits for the fit.
"""

from __future__ import annotations

import pandas as pd

from cartportal.models import OrderLine
from cartportal.pages.rollups import rollup
from predictions.price_response.model import Elasticity, PriceResponseError, estimate, product_periods

STANDING_EXCLUDED = ("cancelled", "returned")


def category_of(category: str | None, sku: str | None) -> str | None:
    """The product's category; a catalogue without categories is grouped by the first three characters of the
    stock code (the same grouping the weekly promotions use)."""
    if category:
        return category
    return f"code {sku[:3]}" if sku else None


def _lines(user, region_ids: list[int] | None):
    qs = OrderLine.objects.restrict(user).filter(quantity__gt=0, unit_price__gt=0, product__isnull=False)
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    return qs.exclude(order__status__in=STANDING_EXCLUDED)


def history(user, *, region_ids: list[int] | None = None) -> pd.DataFrame:
    """product, category, at, quantity, unit_price of the sold lines the user may see."""
    rows = _lines(user, region_ids).values_list(
        "product__sku", "product__category", "order__placed_at", "quantity", "unit_price"
    )
    frame = pd.DataFrame(list(rows), columns=["product", "category", "at", "quantity", "unit_price"])
    frame["category"] = [category_of(c, s) for c, s in zip(frame["category"], frame["product"], strict=True)]
    return frame.astype({"quantity": float, "unit_price": float})


def elasticities(user, *, region_ids: list[int] | None = None) -> dict:
    """{"ready": True, "category": {name: Elasticity dict}, "product": {sku: Elasticity dict}} or
    {"ready": False, "reason": ...} when the history cannot give an estimate."""
    return _kept_estimate(user, region_ids)


@rollup
def _kept_estimate(user, region_ids: list[int] | None = None) -> dict:
    return _estimate(user, region_ids)


def _estimate(user, region_ids: list[int] | None) -> dict:
    frame = history(user, region_ids=region_ids)
    if frame.empty:
        return {"ready": False, "reason": "no sold order lines with a product and a price yet"}
    try:
        found = estimate(product_periods(frame))
    except PriceResponseError as exc:
        return {"ready": False, "reason": str(exc)}
    return {
        "ready": True,
        "category": {e.key: e.as_dict() for e in found if e.level == "category"},
        "product": {e.key: e.as_dict() for e in found if e.level == "product"},
    }


def elasticity_for(user, *, sku: str, category: str | None, region_ids: list[int] | None = None) -> dict | None:
    """The category's estimate (pooled over its products, so the more precise one), or the product's own where
    its interval and the category's do not overlap (the product responds differently); None when neither exists."""
    found = elasticities(user, region_ids=region_ids)
    if not found["ready"]:
        return None
    own = found["product"].get(sku)
    pooled = found["category"].get(category_of(category, sku) or "")
    if own and (pooled is None or own["ci_high"] < pooled["ci_low"] or own["ci_low"] > pooled["ci_high"]):
        return own
    return pooled


__all__ = ["Elasticity", "category_of", "elasticities", "elasticity_for", "history"]
