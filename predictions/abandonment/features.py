"""Abandonment features computed from the database with an explicit cut-off time.

Nothing dated on or after the cut-off is read: sessions started before it, cart events before it, the
customer's orders placed (and deliveries made) before it, reviews written before it, and product prices
seen in cart events before it. A session without a start time (imported analytics exports often carry
just the month) counts as history from before any cut-off; its month still orders it for time-based holdouts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import F, QuerySet

from cartportal.models import CartEvent, Order, Review

SESSION_FIELDS = {
    "id": "session_id",
    "external_id": "external_id",
    "customer_id": "customer_id",
    "region_id": "region_id",
    "region__code": "region",
    "started_at": "started_at",
    "month": "month",
    "weekend": "weekend",
    "special_day": "special_day",
    "device": "device",
    "operating_system": "operating_system",
    "browser": "browser",
    "traffic_source": "traffic_source",
    "visitor_type": "visitor_type",
    "administrative_pages": "administrative_pages",
    "administrative_duration": "administrative_duration",
    "informational_pages": "informational_pages",
    "informational_duration": "informational_duration",
    "product_pages": "product_pages",
    "product_duration": "product_duration",
    "bounce_rate": "bounce_rate",
    "exit_rate": "exit_rate",
    "page_value": "page_value",
    "converted": "converted",
}

# every model feature belongs to exactly one friction driver
DRIVERS = {
    "price": ["cart_value", "max_price_increase", "price_increase_items", "customer_mean_freight_share"],
    "shipping": ["customer_mean_delay_days", "customer_late_share", "customer_orders_delivered"],
    "reviews": ["cart_review_rating", "cart_negative_review_share", "cart_reviews"],
    "engagement": [
        "administrative_pages",
        "log_administrative_duration",
        "informational_pages",
        "log_informational_duration",
        "product_pages",
        "log_product_duration",
        "bounce_rate",
        "exit_rate",
        "page_value",
        "has_page_value",
        "cart_adds",
        "cart_removes",
        "checkouts",
    ],
    "context": [
        "month",
        "weekend",
        "special_day",
        "device",
        "operating_system",
        "browser",
        "traffic_source",
        "visitor_type",
        "region",
        "customer_prior_orders",
        "customer_days_since_order",
    ],
}
DRIVER_LABELS = {
    "price": "Price",
    "shipping": "Shipping",
    "reviews": "Reviews & trust",
    "engagement": "Engagement",
    "context": "Context",
}
CATEGORICAL = ["device", "operating_system", "browser", "traffic_source", "visitor_type", "region"]
FEATURES = [name for names in DRIVERS.values() for name in names]
NUMERIC = [f for f in FEATURES if f not in CATEGORICAL]
DRIVER_OF = {feature: driver for driver, names in DRIVERS.items() for feature in names}


def _frame(queryset, fields: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(queryset.values_list(*fields)), columns=list(fields.values()))


def sessions_before(sessions: QuerySet, cutoff: dt.datetime) -> QuerySet:
    started = sessions.filter(started_at__lt=cutoff)
    undated = sessions.filter(started_at__isnull=True)
    return started | undated


def build(sessions: QuerySet, cutoff: dt.datetime) -> pd.DataFrame:
    """One row per session in ``sessions`` (already scoped by the caller) started before ``cutoff``.

    Columns: FEATURES, plus session_id, external_id, customer_id, region_id, started_at and ``abandoned``
    (1 no purchase, 0 purchase, NaN unknown at the cut-off)."""
    frame = _frame(sessions_before(sessions, cutoff).select_related("region"), SESSION_FIELDS)
    if frame.empty:
        return pd.DataFrame(columns=["session_id", *FEATURES, "abandoned"])
    frame = frame.set_index("session_id", drop=False)
    frame = frame.join(_cart_features(frame.index.tolist(), cutoff))
    frame = frame.join(_customer_features(frame, cutoff))
    return finish(frame)


def latest_session_per_customer(*, region_id: int, id_from: int, id_to: int, as_of: dt.datetime) -> pd.DataFrame:
    """Features of each customer's latest session before ``as_of`` (customers of the region with ids in
    [id_from, id_to]), indexed by customer id, with ``region_id`` and ``session_id`` columns. Customers without
    a session before the cut-off have no row. Used by the rescoring pipeline, one chunk at a time."""
    from cartportal.models import Session

    latest = (
        sessions_before(
            Session.objects.filter(region_id=region_id, customer_id__gte=id_from, customer_id__lte=id_to, is_bot=False),
            as_of,
        )
        .order_by("customer_id", F("started_at").desc(nulls_last=True), "-id")
        .distinct("customer_id")
        .values_list("id", flat=True)
    )
    frame = build(Session.objects.filter(id__in=list(latest)), as_of)
    if frame.empty:
        return pd.DataFrame(columns=["region_id", "session_id", *FEATURES], index=pd.Index([], name="customer_id"))
    frame["customer_id"] = frame["customer_id"].astype("int64")
    return frame.set_index("customer_id", drop=True).sort_index()


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Derived columns and defaults; shared by the database path and live scoring."""
    for name in ("administrative", "informational", "product"):
        frame[f"log_{name}_duration"] = np.log1p(pd.to_numeric(frame.get(f"{name}_duration", 0), errors="coerce"))
    for name in NUMERIC:
        if name not in frame:
            frame[name] = np.nan
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    frame["has_page_value"] = (frame["page_value"].fillna(0) > 0).astype(float)
    frame["weekend"] = frame["weekend"].fillna(0).astype(float)
    defaults = {c: 0.0 for c in NUMERIC if c not in {"customer_days_since_order", "month"}}
    frame = frame.fillna(value=defaults)
    for name in CATEGORICAL:
        frame[name] = frame[name].fillna("").astype(str).str.strip().str.lower() if name in frame else ""
    converted = frame["converted"] if "converted" in frame else pd.Series(np.nan, index=frame.index)
    bought = frame["purchases"] > 0 if "purchases" in frame else pd.Series(False, index=frame.index)
    abandoned = pd.Series(np.where(converted.isna(), np.nan, 1.0 - converted.astype(float)), index=frame.index)
    frame["abandoned"] = abandoned.where(~bought, 0.0)
    return frame


def _cart_features(session_ids: list[int], cutoff: dt.datetime) -> pd.DataFrame:
    events = _frame(
        CartEvent.objects.filter(session_id__in=session_ids, occurred_at__lt=cutoff),
        {
            "session_id": "session_id",
            "product_id": "product_id",
            "kind": "kind",
            "unit_price": "unit_price",
            "quantity": "quantity",
            "occurred_at": "occurred_at",
        },
    )
    if events.empty:
        return pd.DataFrame(index=pd.Index([], name="session_id"))
    events["unit_price"] = events["unit_price"].astype(float)
    reference = _reference_prices(events["product_id"].dropna().unique().tolist(), cutoff)
    events["price_increase"] = (events["unit_price"] / events["product_id"].map(reference) - 1).clip(lower=0)
    adds = events[events["kind"] == "add"]
    grouped = events.groupby("session_id")
    out = pd.DataFrame(
        {
            "cart_adds": adds.groupby("session_id").size(),
            "cart_removes": events[events["kind"] == "remove"].groupby("session_id").size(),
            "checkouts": events[events["kind"] == "checkout"].groupby("session_id").size(),
            "purchases": events[events["kind"] == "purchase"].groupby("session_id").size(),
            "cart_value": (adds["unit_price"] * adds["quantity"]).groupby(adds["session_id"]).sum(),
            "max_price_increase": grouped["price_increase"].max(),
            "price_increase_items": (events["price_increase"] > 0.02).groupby(events["session_id"]).sum(),
        }
    )
    out = out.join(_review_features(adds, cutoff))
    return out


REFERENCE_PRICES = 50  # a product's usual price: the median of its latest prices seen before the cut-off


def _reference_prices(product_ids: list[int], cutoff: dt.datetime) -> pd.Series:
    """The median of the last REFERENCE_PRICES prices each product was seen at in cart events before the cut-off
    (read off the (product, time) index, so the cost does not grow with the shop's history)."""
    if not product_ids:
        return pd.Series(dtype=float)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.id, percentile_cont(0.5) WITHIN GROUP (ORDER BY recent.unit_price)
            FROM unnest(%s::bigint[]) AS p(id)
            CROSS JOIN LATERAL (
                SELECT e.unit_price FROM cartportal_cartevent e
                WHERE e.product_id = p.id AND e.occurred_at < %s AND e.unit_price IS NOT NULL
                ORDER BY e.occurred_at DESC LIMIT %s
            ) recent
            GROUP BY p.id""",
            [[int(i) for i in product_ids], cutoff, REFERENCE_PRICES],
        )
        return pd.Series(dict(cursor.fetchall()), dtype=float)


def _review_features(adds: pd.DataFrame, cutoff: dt.datetime) -> pd.DataFrame:
    products = adds["product_id"].dropna().unique().tolist()
    reviews = _frame(
        Review.objects.filter(product_id__in=products, created_at__lt=cutoff, rating__isnull=False),
        {"product_id": "product_id", "rating": "rating"},
    )
    if reviews.empty:
        return pd.DataFrame(index=pd.Index([], name="session_id"))
    per_product = reviews.groupby("product_id")["rating"].agg(
        rating="mean", negative=lambda r: (r <= 2).mean(), count="size"
    )
    joined = adds[["session_id", "product_id"]].join(per_product, on="product_id").dropna(subset=["rating"])
    grouped = joined.groupby("session_id")
    return pd.DataFrame(
        {
            "cart_review_rating": grouped["rating"].mean(),
            "cart_negative_review_share": grouped["negative"].max(),
            "cart_reviews": grouped["count"].sum(),
        }
    )


def _customer_features(sessions: pd.DataFrame, cutoff: dt.datetime) -> pd.DataFrame:
    """Order history of each session's customer before the session (and before the cut-off)."""
    customers = sessions["customer_id"].dropna().unique().tolist()
    empty = pd.DataFrame(index=sessions.index)
    if not customers:
        return empty
    orders = _frame(
        Order.objects.filter(customer_id__in=customers, placed_at__lt=cutoff).exclude(status="cancelled"),
        {
            "customer_id": "customer_id",
            "placed_at": "placed_at",
            "promised_at": "promised_at",
            "delivered_at": "delivered_at",
            "freight": "freight",
            "total": "total",
        },
    )
    if orders.empty:
        return empty
    for column in ("placed_at", "promised_at", "delivered_at"):  # all-empty columns come back as objects
        orders[column] = pd.to_datetime(orders[column], utc=True)
    # a delivery after the cut-off is not known yet
    orders.loc[orders["delivered_at"] >= cutoff, "delivered_at"] = pd.NaT
    delay = (orders["delivered_at"] - orders["promised_at"]).dt.total_seconds() / 86400
    orders["delay"] = delay
    orders["late"] = np.where(delay.notna(), (delay > 0).astype(float), np.nan)
    orders["freight_share"] = orders["freight"].astype(float) / orders["total"].astype(float).replace(0, np.nan)
    # every (session, earlier order of its customer) pair, aggregated per session in one pass
    pairs = sessions[["session_id", "customer_id", "started_at"]].dropna(subset=["customer_id"])
    pairs = pairs.assign(customer_id=pairs["customer_id"].astype("int64"))
    pairs = pairs.merge(orders.assign(customer_id=orders["customer_id"].astype("int64")), on="customer_id")
    started = pd.to_datetime(pairs["started_at"], utc=True)
    pairs = pairs[started.isna() | (pairs["placed_at"] < started)]
    if pairs.empty:
        return empty
    reference = pd.to_datetime(pairs["started_at"], utc=True).fillna(pd.Timestamp(cutoff))
    pairs = pairs.assign(since=(reference - pairs["placed_at"]).dt.total_seconds() / 86400)
    grouped = pairs.groupby("session_id")
    return pd.DataFrame(
        {
            "customer_prior_orders": grouped.size(),
            "customer_days_since_order": grouped["since"].min(),
            "customer_mean_delay_days": grouped["delay"].mean(),
            "customer_late_share": grouped["late"].mean(),
            "customer_orders_delivered": grouped["delay"].count(),
            "customer_mean_freight_share": grouped["freight_share"].mean(),
        }
    )
