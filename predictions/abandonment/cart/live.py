"""Live scoring of one open cart (the API): the cart as the caller sends it, scored at t = now.

Products and the customer are looked up by the shop's own ids; what is found is used (recent prices, ratings and
reviews, order history), what is not is reported back and counts as unknown (no reference price, no reviews, a
first-time buyer)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.utils import timezone

from cartportal.models import Customer, Product
from predictions.abandonment.cart import explain, features, proposals
from predictions.abandonment.services import latest_model

LIVE_CART = -1  # the key of the cart being scored (stored carts are keyed by their session id)


class NoModel(LookupError):
    """No abandonment model has been trained yet."""


def score_cart(cart: dict, *, region, customers=None, model=None, now: dt.datetime | None = None) -> dict:
    """``cart``: {"items": [{"product_id", "price", "quantity"}], "shipping_cost", "customer_id", "device",
    "traffic_source", "started_at" | "minutes_in_session", "removes"}; ``customers``: the queryset the
    caller may see (a customer outside it is unknown). Returns probability, drivers, intervention and unknown."""
    model = model or latest_model()
    if model is None:
        raise NoModel("no abandonment model has been trained yet")
    t = pd.Timestamp(now or timezone.now())
    products = {p.sku: p for p in Product.objects.filter(sku__in=[str(i["product_id"]) for i in cart["items"]])}
    customer = _customer(cart.get("customer_id"), customers)
    frame = features.assemble(_point(cart, region, customer, t), _events(cart, products, t))
    probability, drivers = model.explain(frame)
    top = explain.top_driver(drivers[0])
    row = frame.iloc[0]
    proposal = proposals.propose(
        {"top_driver": top, "customer_id": customer.pk if customer else None, "low_rated_items": row["low_rated_items"]}
    )
    unknown_products = sorted({str(i["product_id"]) for i in cart["items"]} - set(products))
    return {
        "probability": round(float(probability[0]), 4),
        "cart_value": round(float(row["cart_value"]), 2),
        "expected_loss": round(float(probability[0] * row["cart_value"]), 2),
        "drivers": drivers[0],
        "intervention": proposal,
        "unknown": {
            "products": unknown_products,
            "customer": None if customer or cart.get("customer_id") in (None, "") else str(cart["customer_id"]),
        },
        "prediction_point": t.isoformat(),
    }


def _customer(external_id, customers) -> Customer | None:
    if external_id in (None, ""):
        return None
    scope = customers if customers is not None else Customer.objects.all()
    return scope.filter(external_id=str(external_id), erased_at__isnull=True).first()


def _point(cart: dict, region, customer: Customer | None, t: pd.Timestamp) -> pd.DataFrame:
    started = cart.get("started_at")
    if started is None and cart.get("minutes_in_session") is not None:
        started = t - pd.Timedelta(minutes=float(cart["minutes_in_session"]))
    return pd.DataFrame(
        {
            "t": [t],
            "customer_id": [customer.pk if customer else None],
            "region": [region.code],
            "timezone": [region.timezone],
            "started_at": [started],
            "device": [cart.get("device") or ""],
            "traffic_source": [cart.get("traffic_source") or ""],
        },
        index=pd.Index([LIVE_CART], name="cart"),
    )


def _events(cart: dict, products: dict, t: pd.Timestamp) -> pd.DataFrame:
    """The cart as events just before t: each item added, and as many add-and-remove pairs as the caller reports
    removals."""
    just_before = t - pd.Timedelta(seconds=1)
    rows = []
    for item in cart["items"]:
        product = products.get(str(item["product_id"]))
        rows.append(
            {
                "product_id": product.pk if product else None,
                "sku": str(item["product_id"]),
                "kind": "add",
                "unit_price": float(item["price"]),
                "quantity": int(item.get("quantity") or 1),
            }
        )
    for n in range(int(cart.get("removes") or 0)):  # items added earlier and taken out again
        rows += [
            {"product_id": None, "sku": f"removed-{n}", "kind": k, "unit_price": 0.0, "quantity": 1}
            for k in ("add", "remove")
        ]
    if cart.get("shipping_cost") is not None:
        sku = sorted(features.shipping_skus())[0] if features.shipping_skus() else "SHIPPING"
        rows.append(
            {"product_id": None, "sku": sku, "kind": "add", "unit_price": float(cart["shipping_cost"]), "quantity": 1}
        )
    events = pd.DataFrame(rows, columns=["product_id", "sku", "kind", "unit_price", "quantity"])
    return events.assign(cart=LIVE_CART, occurred_at=just_before)
