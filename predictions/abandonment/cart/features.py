"""Features of a cart at its prediction point t, read only from rows dated strictly before t.

The same assembly serves stored carts (events read from the database, each cart cut at its own t) and a cart
scored live (its items given by the caller, t = now): cart contents and value; each item's price against its
recent price (the median of what it was put in carts for over the 30 days before t, else its catalogue price);
the shipping cost (cart lines whose SKU is a shipping SKU) and its share of the cart; item ratings and review-text
sentiment and themes; what the session did so far; the customer's history (orders, returns, late deliveries,
earlier abandoned carts, recency, frequency, spend); device, traffic source, region, hour and weekday.
Besides the model's FEATURES, a few plain facts (the dearest-risen item's name, the poorly rated items, the most
mentioned complaint) are kept for the driver sentences.
"""

from __future__ import annotations

import functools
import zoneinfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.models.functions import Trim, Upper

from cartportal.models import CartEvent, Order, Product, Review
from predictions.abandonment.cart.points import frame_of, window

DRIVERS = {
    "price": ["cart_value", "max_price_rise", "risen_items", "mean_price_rise"],
    "shipping": ["shipping_cost", "shipping_share", "late_deliveries"],
    "reviews": ["cart_rating", "lowest_item_rating", "low_rated_items", "negative_review_share", "cart_reviews"],
    "engagement": ["items", "units", "adds", "removes", "minutes_in_session"],
    "customer": ["prior_orders", "days_since_order", "prior_spend", "returns", "earlier_abandoned_carts"],
    "context": ["device", "traffic_source", "region", "hour", "weekday"],
}
DRIVER_LABELS = {
    "price": "Price",
    "shipping": "Shipping",
    "reviews": "Reviews & trust",
    "engagement": "Browsing so far",
    "customer": "Customer history",
    "context": "Context",
}
CATEGORICAL = ["device", "traffic_source", "region"]
FEATURES = [name for names in DRIVERS.values() for name in names]
NUMERIC = [f for f in FEATURES if f not in CATEGORICAL]
FACTS = ["risen_product", "low_rated_mean", "low_rated_product", "complaint", "prediction_point"]
REFERENCE_DAYS = 30
RISEN = 0.02  # a price more than 2 % above its recent price counts as a rise
LOW_RATING = 3.5
EVENT_FIELDS = {
    "session_id": "cart",
    "product_id": "product_id",
    "product__sku": "sku",
    "kind": "kind",
    "unit_price": "unit_price",
    "quantity": "quantity",
    "occurred_at": "occurred_at",
}


def for_points(points: pd.DataFrame) -> pd.DataFrame:
    """Features of stored carts (rows of points.cart_points, indexed by cart = session id), each at its own t."""
    if points.empty:
        return empty(points)
    events = frame_of(
        CartEvent.objects.filter(session_id__in=points.index.tolist(), occurred_at__lt=points["t"].max()),
        EVENT_FIELDS,
    )
    return assemble(points, events)


def assemble(points: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """``points``: one row per cart (index = cart key) with t, customer_id, region, timezone, started_at, device,
    traffic_source and optionally session_id (its own events are then not counted as the item's recent price).
    ``events``: the carts' events with a ``cart`` column; anything on or after a cart's t is dropped here."""
    frame = points.copy()
    frame["t"] = pd.to_datetime(frame["t"], utc=True)
    events = _before_t(events, frame["t"])
    items, shipping, goods = _contents(events)
    frame = frame.join(_cart_columns(items, goods, shipping))
    frame = frame.join(_price_columns(items, frame))
    frame = frame.join(_review_columns(items, frame["t"]))
    frame = frame.join(_customer_columns(frame))
    frame = _context_columns(frame)
    frame["prediction_point"] = frame["t"].map(lambda t: t.isoformat())
    return finish(frame)


def empty(points: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in points.columns if c not in FEATURES] + FEATURES + FACTS
    return pd.DataFrame({c: pd.Series(dtype=float if c in NUMERIC else object) for c in columns}, index=points.index)


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    for name in NUMERIC:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float) if name in frame else np.nan
    counts = [
        "items",
        "units",
        "adds",
        "removes",
        "risen_items",
        "low_rated_items",
        "cart_reviews",
        "prior_orders",
        "prior_spend",
        "returns",
        "earlier_abandoned_carts",
        "late_deliveries",
    ]
    frame[counts] = frame[counts].fillna(0.0)
    for name in CATEGORICAL:
        frame[name] = frame[name].fillna("").astype(str).str.strip().str.lower() if name in frame else ""
    for name in FACTS:
        if name not in frame:
            frame[name] = None
    return frame


def _before_t(events: pd.DataFrame, t: pd.Series) -> pd.DataFrame:
    events = events.copy()
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True)
    events = events[events["cart"].isin(t.index)]
    return events[events["occurred_at"] < events["cart"].map(t)]


def shipping_skus() -> set[str]:
    return {sku.strip().upper() for sku in settings.CARTPORTAL_SHIPPING_SKUS if sku.strip()}


def is_shipping_sku(sku: object) -> bool:
    """A shipping line (CARTPORTAL_SHIPPING_SKUS, any case) is a charge in a cart, not a product."""
    return str(sku or "").strip().upper() in shipping_skus()


def without_shipping(queryset, sku_field: str = "product__sku"):
    """The queryset without rows whose product is a shipping line (compared trimmed and upper-cased, in SQL)."""
    return queryset.alias(_sku_upper=Upper(Trim(sku_field))).exclude(_sku_upper__in=shipping_skus())


def _contents(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Items still in each cart (net quantity > 0, at their latest price), each cart's latest shipping cost, and
    the adds and removes of goods (not shipping lines)."""
    events = events.assign(
        unit_price=pd.to_numeric(events["unit_price"], errors="coerce"),
        quantity=pd.to_numeric(events["quantity"], errors="coerce").fillna(1),
        is_shipping=events["sku"].fillna("").astype(str).str.strip().str.upper().isin(shipping_skus()),
    )
    lines = events[events["kind"].isin(["add", "remove"])].sort_values("occurred_at", kind="stable")
    quoted = lines[lines["is_shipping"] & (lines["kind"] == "add")]
    shipping = (quoted["unit_price"] * quoted["quantity"]).groupby(quoted["cart"]).last()
    goods = lines[~lines["is_shipping"] & (lines["product_id"].notna() | lines["sku"].fillna("").astype(bool))]
    # an item is its product, or its SKU where the product is not in the catalogue (a live cart may hold those)
    known = goods["product_id"].notna()
    goods = goods.assign(item=np.where(known, "p" + goods["product_id"].astype(str), "s" + goods["sku"].astype(str)))
    signed = goods["quantity"].where(goods["kind"] == "add", -goods["quantity"])
    net = signed.groupby([goods["cart"], goods["item"]]).sum().rename("quantity")
    added = goods[goods["kind"] == "add"].groupby(["cart", "item"])
    items = pd.concat(
        [net, added["unit_price"].last().rename("unit_price"), added["product_id"].last().rename("product_id")], axis=1
    ).reset_index()
    items = items[items["quantity"] > 0]
    return items, shipping, goods


def _cart_columns(items: pd.DataFrame, events: pd.DataFrame, shipping: pd.Series) -> pd.DataFrame:
    value = (items["unit_price"].fillna(0) * items["quantity"]).groupby(items["cart"]).sum()
    out = pd.DataFrame(
        {
            "items": items.groupby("cart").size(),
            "units": items.groupby("cart")["quantity"].sum(),
            "cart_value": value,
            "adds": events[events["kind"] == "add"].groupby("cart").size(),
            "removes": events[events["kind"] == "remove"].groupby("cart").size(),
            "shipping_cost": shipping,
            "first_event": events.groupby("cart")["occurred_at"].min(),
        }
    )
    out["shipping_share"] = out["shipping_cost"] / out["cart_value"].where(out["cart_value"] > 0)
    return out


def _price_columns(items: pd.DataFrame, carts: pd.DataFrame) -> pd.DataFrame:
    if items.empty:
        return pd.DataFrame(index=pd.Index([], name="cart"))
    items = items.join(carts[["t"]], on="cart")
    own = carts["session_id"] if "session_id" in carts else pd.Series(None, index=carts.index)
    items["session_id"] = items["cart"].map(own)
    reference = _recent_prices(items[items["product_id"].notna()]).reindex(items.index)
    catalogue = _catalogue(items["product_id"].dropna().unique().tolist())
    items["reference"] = reference.fillna(items["product_id"].map(catalogue["price"]))
    items["rise"] = items["unit_price"] / items["reference"].where(items["reference"] > 0) - 1
    items["name"] = items["product_id"].map(catalogue["name"])
    grouped = items.groupby("cart")
    # stable sorts: of items risen alike, the first in item order is named (the live path names the same one)
    top = (
        items.sort_values("rise", ascending=False, na_position="last", kind="stable")
        .drop_duplicates("cart")
        .set_index("cart")
    )
    return pd.DataFrame(
        {
            "max_price_rise": grouped["rise"].max(),
            "mean_price_rise": grouped["rise"].mean(),
            "risen_items": (items["rise"] > RISEN).groupby(items["cart"]).sum(),
            "risen_product": top["name"].where(top["rise"] > RISEN),
        }
    )


def _recent_prices(items: pd.DataFrame) -> pd.Series:
    """Per item row: the median price its product was put in other carts for over the 30 days before t (the
    latest 50 such events, read off the (product, time) index so the cost does not grow with the history)."""
    rows = items.reset_index(drop=True)
    if rows.empty:
        return pd.Series(dtype=float, index=items.index)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT k.i, percentile_cont(0.5) WITHIN GROUP (ORDER BY recent.unit_price)
            FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::bigint[]) AS k(i, product, t, own)
            CROSS JOIN LATERAL (
                SELECT e.unit_price FROM cartportal_cartevent e
                WHERE e.product_id = k.product AND e.occurred_at < k.t AND e.occurred_at >= k.t - %s::interval
                  AND e.kind = 'add' AND e.unit_price IS NOT NULL AND e.session_id IS DISTINCT FROM k.own
                ORDER BY e.occurred_at DESC LIMIT 50
            ) recent
            GROUP BY k.i""",
            [
                list(range(len(rows))),
                [int(p) for p in rows["product_id"]],
                [t.to_pydatetime() for t in rows["t"]],
                [None if pd.isna(s) else int(s) for s in rows["session_id"]],
                f"{REFERENCE_DAYS} days",
            ],
        )
        found = dict(cursor.fetchall())
    return pd.Series([found.get(i) for i in range(len(rows))], index=items.index, dtype=float)


def _catalogue(product_ids: list) -> pd.DataFrame:
    products = frame_of(
        Product.objects.filter(pk__in=[int(p) for p in product_ids]),
        {"id": "id", "name": "name", "sku": "sku", "price": "price"},
    ).set_index("id")
    products["price"] = pd.to_numeric(products["price"], errors="coerce").astype(float)
    products["name"] = products["name"].where(products["name"].astype(bool), products["sku"])
    return products


def _review_columns(items: pd.DataFrame, t: pd.Series) -> pd.DataFrame:
    items = items[items["product_id"].notna()]
    if items.empty:
        return pd.DataFrame(index=pd.Index([], name="cart"))
    reviews = frame_of(
        Review.objects.filter(product_id__in=items["product_id"].unique().tolist(), created_at__lt=t.max()),
        {"product_id": "product_id", "rating": "rating", "text": "text", "created_at": "created_at"},
    )
    if reviews.empty:
        return pd.DataFrame(index=pd.Index([], name="cart"))
    reviews = reviews.join(_text_verdicts(reviews["text"].fillna("").tolist(), reviews.index))
    reviews["created_at"] = pd.to_datetime(reviews["created_at"], utc=True)
    pairs = items[["cart", "product_id"]].join(t.rename("t"), on="cart").merge(reviews, on="product_id")
    pairs = pairs[pairs["created_at"] < pairs["t"]]
    per_item = pairs.groupby(["cart", "product_id"]).agg(
        rating=("rating", "mean"), reviews=("rating", "size"), negative=("negative", "sum")
    )
    per_item = per_item.reset_index()
    per_item["name"] = per_item["product_id"].map(_catalogue(per_item["product_id"].unique().tolist())["name"])
    low = per_item[per_item["rating"] < LOW_RATING]
    grouped = per_item.groupby("cart")
    complaints = pairs[pairs["negative"] & (pairs["theme"] != "")]
    return pd.DataFrame(
        {
            "cart_rating": grouped["rating"].mean(),
            "lowest_item_rating": grouped["rating"].min(),
            "low_rated_items": low.groupby("cart").size(),
            "low_rated_mean": low.groupby("cart")["rating"].mean(),
            "low_rated_product": low.sort_values("rating", kind="stable")
            .drop_duplicates("cart")
            .set_index("cart")["name"],
            "negative_review_share": grouped["negative"].sum() / grouped["reviews"].sum(),
            "cart_reviews": grouped["reviews"].sum(),
            "complaint": complaints.groupby("cart")["theme"].agg(lambda s: s.value_counts().index[0]),
        }
    )


def _text_verdicts(texts: list[str], index: pd.Index) -> pd.DataFrame:
    """Whether each review text reads negative (its words, not its stars) and its first complaint theme."""
    verdicts = [_verdict(text) for text in texts]
    return pd.DataFrame(
        {"negative": [v[0] for v in verdicts], "theme": [v[1] for v in verdicts]},
        index=index,
    )


@functools.lru_cache(maxsize=200_000)
def _verdict(text: str) -> tuple[bool, str]:
    # a review's text never changes, so its verdict is worked out once per process (live scoring reads the same
    # products' reviews again and again)
    from predictions import reviews as review_text

    verdict = review_text.analyse([text])[0]
    return bool(verdict["negative"] and text.strip()), (verdict["themes"] or [""])[0]


def _customer_columns(carts: pd.DataFrame) -> pd.DataFrame:
    known = carts[["customer_id", "t"]].dropna(subset=["customer_id"]).astype({"customer_id": "int64"})
    if known.empty:
        return pd.DataFrame(index=pd.Index([], name="cart"))
    customers = known["customer_id"].unique().tolist()
    horizon = known["t"].max()
    return _order_history(known, customers, horizon).join(_earlier_carts(known, customers, horizon), how="outer")


def _order_history(known: pd.DataFrame, customers: list[int], horizon) -> pd.DataFrame:
    orders = frame_of(
        Order.objects.filter(customer_id__in=customers, placed_at__lt=horizon),
        {
            "customer_id": "customer_id",
            "placed_at": "placed_at",
            "status": "status",
            "total": "total",
            "promised_at": "promised_at",
            "delivered_at": "delivered_at",
        },
    )
    if orders.empty:
        return pd.DataFrame(index=pd.Index([], name="cart"))
    for column in ("placed_at", "promised_at", "delivered_at"):
        orders[column] = pd.to_datetime(orders[column], utc=True)
    pairs = known.reset_index(names="cart").merge(orders, on="customer_id")
    pairs = pairs[pairs["placed_at"] < pairs["t"]]
    kept = pairs[~pairs["status"].isin([Order.Status.CANCELLED, Order.Status.RETURNED])]
    delivered = pairs["delivered_at"] < pairs["t"]  # a delivery is only known once it has happened
    late = pairs[delivered & (pairs["delivered_at"] > pairs["promised_at"])]
    return pd.DataFrame(
        {
            "prior_orders": kept.groupby("cart").size(),
            "prior_spend": kept["total"].astype(float).groupby(kept["cart"]).sum(),
            "days_since_order": ((kept["t"] - kept["placed_at"]).dt.total_seconds() / 86400)
            .groupby(kept["cart"])
            .min(),
            "returns": pairs[~pairs.index.isin(kept.index)].groupby("cart").size(),
            "late_deliveries": late.groupby("cart").size(),
        }
    )


def _earlier_carts(known: pd.DataFrame, customers: list[int], horizon) -> pd.DataFrame:
    """Earlier carts of the customer whose window closed before t without a purchase seen before t."""
    events = frame_of(
        CartEvent.objects.filter(
            customer_id__in=customers, occurred_at__lt=horizon, session_id__isnull=False, kind__in=["add", "purchase"]
        ),
        {"customer_id": "customer_id", "session_id": "session_id", "kind": "kind", "occurred_at": "occurred_at"},
    )
    if events.empty:
        return pd.DataFrame(index=pd.Index([], name="cart"))
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True)
    first = {
        kind: events[events["kind"] == kind].groupby(["customer_id", "session_id"])["occurred_at"].min().rename(kind)
        for kind in ("add", "purchase")
    }
    carts = pd.concat(first.values(), axis=1).reset_index()
    pairs = known.reset_index(names="cart").merge(carts.dropna(subset=["add"]), on="customer_id")
    earlier = pairs[(pairs["session_id"] != pairs["cart"]) & (pairs["add"] + window() < pairs["t"])]
    abandoned = earlier[earlier["purchase"].isna() | (earlier["purchase"] >= earlier["t"])]
    return abandoned.groupby("cart").size().rename("earlier_abandoned_carts").to_frame()


def _context_columns(frame: pd.DataFrame) -> pd.DataFrame:
    local = [
        _local(t, tz)
        for t, tz in zip(frame["t"], frame.get("timezone", pd.Series("UTC", index=frame.index)), strict=True)
    ]
    frame["hour"] = [moment.hour + moment.minute / 60 for moment in local]
    frame["weekday"] = [moment.weekday() for moment in local]
    started = pd.to_datetime(frame.get("started_at"), utc=True, errors="coerce")
    if "first_event" in frame:  # one resolution for both (they may come at different ones), then fill
        first = pd.to_datetime(frame["first_event"], utc=True)
        began = started.dt.as_unit("ns").fillna(first.dt.as_unit("ns"))
    else:
        began = started
    frame["minutes_in_session"] = ((frame["t"] - began).dt.total_seconds() / 60).clip(lower=0)
    return frame


def _local(moment: pd.Timestamp, tz: str | None):
    try:
        return moment.tz_convert(zoneinfo.ZoneInfo(tz or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return moment
