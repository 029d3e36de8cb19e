"""Features of one live cart in plain Python: the same values ``features.assemble`` computes for a cart whose items
all arrived just before t, read with a handful of indexed queries instead of pandas frames.

The batch path serves thousands of stored carts at once; building its frames costs tens of milliseconds even for a
single cart, which is most of a live call. Both paths are checked against each other on generated carts
(tests/predictions/test_abandonment_live_lean.py), so a change to one that is not made in the other fails there.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import pandas as pd
from django.db import connection

from cartportal.models import Order, Product, Review
from predictions.abandonment.cart import features
from predictions.abandonment.cart.features import CATEGORICAL, FACTS, LOW_RATING, NUMERIC, REFERENCE_DAYS, RISEN
from predictions.abandonment.cart.points import window

NAN = float("nan")
COUNTS = ["prior_orders", "prior_spend", "returns", "earlier_abandoned_carts", "late_deliveries"]


def cart_features(cart: dict, *, region, products: dict[str, Product], customer_id: int | None, t: dt.datetime) -> dict:
    """One feature row (FEATURES and FACTS) for ``cart`` as the live API receives it, scored at ``t``;
    ``products`` maps the shop's ids to the catalogue products found for them."""
    row: dict = {name: NAN for name in NUMERIC}
    # counts the batch path fills with 0 where nothing was found (a first-time buyer has no orders)
    row.update({name: 0.0 for name in COUNTS})
    items, shipping, adds, removes = _contents(cart, products)
    _cart_values(row, items, shipping, adds, removes)
    known = [item for item in items if item["product"] is not None]
    _prices(row, items, known, t)
    _reviews(row, known, t)
    if customer_id is not None:
        row.update(_history(customer_id, t))
    _context(row, cart, region, t, has_goods=adds > 0)
    for name in ("device", "traffic_source"):
        row[name] = str(cart.get(name) or "").strip().lower()
    row["region"] = str(region.code or "").strip().lower()
    for name in FACTS:
        row.setdefault(name, None)
    row["prediction_point"] = pd.Timestamp(t).isoformat()
    return row


def frame(row: dict, key: int) -> pd.DataFrame:
    """The row as the one-row frame the model reads (numeric columns float, categorical columns str)."""
    columns = {name: [float(row[name])] for name in NUMERIC}
    columns.update({name: [str(row[name])] for name in CATEGORICAL})
    columns.update({name: [row[name]] for name in FACTS})
    return pd.DataFrame(columns, index=pd.Index([key], name="cart"))


def _contents(cart: dict, products: dict[str, Product]) -> tuple[list[dict], float, int, int]:
    """Items still in the cart (merged per product, or per SKU when not in the catalogue, at the latest price),
    the quoted shipping cost, and the number of adds and removes of goods."""
    merged: dict[str, dict] = {}
    shipping = NAN
    adds = removes = 0
    for raw in cart["items"]:
        sku, price, quantity = str(raw["product_id"]), float(raw["price"]), int(raw.get("quantity") or 1)
        if features.is_shipping_sku(sku):  # a shipping line sent as an item counts as the shipping quote
            shipping = price * quantity
            continue
        if not sku:
            continue
        adds += 1
        product = products.get(sku)
        key = f"p{product.pk}" if product else f"s{sku}"
        entry = merged.setdefault(key, {"quantity": 0, "product": product})
        entry.update(quantity=entry["quantity"] + quantity, unit_price=price, product=product)
    # items added and taken out again: an add and a remove each, nothing left in the cart
    taken_out = int(cart.get("removes") or 0)
    adds, removes = adds + taken_out, taken_out
    if cart.get("shipping_cost") is not None:
        shipping = float(cart["shipping_cost"])
    items = [dict(merged[key], key=key) for key in sorted(merged) if merged[key]["quantity"] > 0]
    return items, shipping, adds, removes


def _cart_values(row: dict, items: list[dict], shipping: float, adds: int, removes: int) -> None:
    value = sum((0.0 if math.isnan(i["unit_price"]) else i["unit_price"]) * i["quantity"] for i in items)
    row.update(
        items=float(len(items)),
        units=float(sum(i["quantity"] for i in items)),
        cart_value=value if items else NAN,
        adds=float(adds),
        removes=float(removes),
        shipping_cost=shipping,
    )
    row["shipping_share"] = shipping / value if items and value > 0 else NAN


def _prices(row: dict, items: list[dict], known: list[dict], t: dt.datetime) -> None:
    recent = _recent_prices([i["product"].pk for i in known], t)
    rises = []
    for item in items:
        product = item["product"]
        reference = NAN
        if product is not None:
            reference = recent.get(product.pk)
            if reference is None:
                reference = NAN if product.price is None else float(product.price)
        rise = item["unit_price"] / reference - 1 if reference > 0 else NAN
        rises.append((rise, (product.name or product.sku) if product is not None else None))
    found = [r for r in rises if not math.isnan(r[0])]
    row["risen_items"] = float(sum(1 for r, _ in found if r > RISEN))
    row["max_price_rise"] = max((r for r, _ in found), default=NAN)
    row["mean_price_rise"] = sum(r for r, _ in found) / len(found) if found else NAN
    top = max(found, key=lambda r: r[0], default=None)
    row["risen_product"] = top[1] if top is not None and top[0] > RISEN else None


def _recent_prices(product_ids: list[int], t: dt.datetime) -> dict[int, float]:
    """The median add price of each product over the 30 days before t (its latest 50 adds), one indexed read."""
    if not product_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT k.product, array_agg(recent.unit_price)
            FROM unnest(%s::bigint[]) AS k(product)
            CROSS JOIN LATERAL (
                SELECT e.unit_price FROM cartportal_cartevent e
                WHERE e.product_id = k.product AND e.occurred_at < %s AND e.occurred_at >= %s
                  AND e.kind = 'add' AND e.unit_price IS NOT NULL
                ORDER BY e.occurred_at DESC LIMIT 50
            ) recent
            GROUP BY k.product""",
            [sorted(set(product_ids)), t, t - dt.timedelta(days=REFERENCE_DAYS)],
        )
        return {product: _median([float(p) for p in prices]) for product, prices in cursor.fetchall()}


def _median(values: list[float]) -> float:
    # interpolated as PostgreSQL's percentile_cont(0.5) does, so the batch path's figure is matched to the last bit
    ordered = sorted(values)
    middle = (len(ordered) - 1) / 2
    low, high = ordered[math.floor(middle)], ordered[math.ceil(middle)]
    return low + (high - low) * (middle - math.floor(middle))


def _reviews(row: dict, known: list[dict], t: dt.datetime) -> None:
    row.update(low_rated_items=0.0, cart_reviews=0.0)
    if not known:
        return
    by_product: dict[int, list[tuple]] = {}
    reviews = Review.objects.filter(product_id__in=[i["product"].pk for i in known], created_at__lt=t)
    for product_id, rating, text in reviews.values_list("product_id", "rating", "text"):
        by_product.setdefault(product_id, []).append((rating, *features._verdict(text or "")))
    per_item, themes = [], Counter()
    for item in known:
        found = by_product.get(item["product"].pk)
        if not found:
            continue
        ratings = [float(r) for r, _, _ in found if r is not None]
        mean = sum(ratings) / len(ratings) if ratings else NAN
        per_item.append((mean, len(found), sum(1 for _, negative, _ in found if negative), item["product"]))
        themes.update(theme for _, negative, theme in found if negative and theme)
    if not per_item:
        return
    per_item.sort(key=lambda p: p[3].pk)  # the batch path groups items by product id
    rated = [p[0] for p in per_item if not math.isnan(p[0])]
    low = sorted((p for p in per_item if p[0] < LOW_RATING), key=lambda p: p[0])
    reviewed = sum(p[1] for p in per_item)
    row.update(
        cart_rating=sum(rated) / len(rated) if rated else NAN,
        lowest_item_rating=min(rated, default=NAN),
        low_rated_items=float(len(low)),
        low_rated_mean=sum(p[0] for p in low) / len(low) if low else None,
        low_rated_product=(low[0][3].name or low[0][3].sku) if low else None,
        negative_review_share=sum(p[2] for p in per_item) / reviewed if reviewed else NAN,
        cart_reviews=float(reviewed),
        complaint=themes.most_common(1)[0][0] if themes else None,
    )


def _history(customer_id: int, t: dt.datetime) -> dict:
    """The customer's orders before t and earlier carts left without a purchase, in one query."""
    excluded = [Order.Status.CANCELLED, Order.Status.RETURNED]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE NOT o.status = ANY(%(excluded)s)),
                   coalesce(sum(o.total) FILTER (WHERE NOT o.status = ANY(%(excluded)s)), 0),
                   max(o.placed_at) FILTER (WHERE NOT o.status = ANY(%(excluded)s)),
                   count(*) FILTER (WHERE o.status = ANY(%(excluded)s)),
                   count(*) FILTER (WHERE o.delivered_at < %(t)s AND o.delivered_at > o.promised_at),
                   (SELECT count(*) FROM (
                        SELECT min(e.occurred_at) FILTER (WHERE e.kind = 'add') AS added,
                               min(e.occurred_at) FILTER (WHERE e.kind = 'purchase') AS bought
                        FROM cartportal_cartevent e
                        WHERE e.customer_id = %(customer)s AND e.occurred_at < %(t)s AND e.session_id IS NOT NULL
                          AND e.kind IN ('add', 'purchase')
                        GROUP BY e.session_id) c
                    WHERE c.added + %(window)s < %(t)s AND c.bought IS NULL)
            FROM cartportal_order o
            WHERE o.customer_id = %(customer)s AND o.placed_at < %(t)s""",
            {
                "excluded": [str(s) for s in excluded],
                "t": t,
                "customer": customer_id,
                "window": window().to_pytimedelta(),
            },
        )
        kept, spend, last, returned, late, abandoned = cursor.fetchone()
    return {
        "prior_orders": float(kept),
        "prior_spend": float(spend),
        "days_since_order": (t - last).total_seconds() / 86400 if last is not None else NAN,
        "returns": float(returned),
        "late_deliveries": float(late),
        "earlier_abandoned_carts": float(abandoned),
    }


def _context(row: dict, cart: dict, region, t: dt.datetime, *, has_goods: bool) -> None:
    moment = features._local(pd.Timestamp(t), region.timezone)
    row["hour"] = moment.hour + moment.minute / 60
    row["weekday"] = float(moment.weekday())
    started = cart.get("started_at")
    if started is None and cart.get("minutes_in_session") is not None:
        started = t - dt.timedelta(minutes=float(cart["minutes_in_session"]))
    if started is None and has_goods:
        started = t - dt.timedelta(seconds=1)  # the items arrived just before t
    row["minutes_in_session"] = max((t - started).total_seconds() / 60, 0.0) if started is not None else NAN
