"""Reads of the recommender: the active model, a customer's top-N with reasons, similar items."""

from __future__ import annotations

import threading

import pandas as pd
from django.db import connection
from django.db.models import Q
from django.http import Http404

from cartportal.models import CartEvent, Customer, OrderLine, Product
from predictions import registry
from predictions.models import Kind

from .alternatives import CatalogueEntry
from .interactions import from_order_lines
from .model import Recommendation, Recommender

_loaded: dict[int, Recommender] = {}
_lock = threading.Lock()


def active_recommender() -> Recommender | None:
    """The active recommendation model (checksum verified once per process and version), or None."""
    version = registry.active_version(Kind.RECOMMENDATION)
    if version is None:
        return None
    with _lock:
        if version.pk not in _loaded:
            _loaded.clear()
            _loaded[version.pk] = registry.load_version(version)
        return _loaded[version.pk]


def purchases_unchecked() -> pd.DataFrame:
    """Every region's purchases: the model is global, like every model version (trained on all regions' data,
    never shown row by row). Callers that show anything to a user go through the scoped selectors below."""
    return from_order_lines(OrderLine.objects.all())


def product_names_unchecked(skus) -> dict[str, str]:
    """Catalogue names by upper-case sku (the catalogue is not region-owned)."""
    rows = Product.objects.filter(sku__in=list(skus)).exclude(name="").values_list("sku", "name")
    return {sku.upper(): name for sku, name in rows}


def visible_customer(user, customer_id) -> Customer:
    """The customer if the user may see them; a foreign-region customer answers exactly like a missing one."""
    customer = Customer.objects.restrict(user, "view").filter(pk=customer_id, erased_at__isnull=True).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def recommendations_for_customer(customer: Customer, n: int = 10) -> list[Recommendation]:
    """Top-N for a customer the caller has already resolved through the scope. Empty when no model is active
    or the customer withdrew consent to personalisation (then only non-personal lists may be shown)."""
    model = active_recommender()
    if model is None:
        return []
    if not customer.consent_personalisation:
        return model.popular(n)
    return model.recommend(str(customer.pk), n)


def recommendations_for(user, customer_id, n: int = 10) -> list[Recommendation]:
    return recommendations_for_customer(visible_customer(user, customer_id), n)


def catalogue_unchecked(skus=None) -> dict:
    """Product facts by upper-case sku (the catalogue is shared by every region): category, price (the product's
    list price, else the median price it sold at), house-brand flag."""
    products = Product.objects.all()
    if skus is not None:
        products = products.filter(Q(sku__in=list(skus)) | Q(sku__in=[str(s).upper() for s in skus]))
    rows = list(products.values_list("sku", "name", "category", "price", "house_brand"))
    sold = _median_prices([r[0] for r in rows if r[3] is None])
    return {
        sku.upper(): CatalogueEntry(
            sku=sku.upper(),
            name=name,
            category=category,
            price=float(price) if price is not None else sold.get(sku),
            house_brand=bool(house_brand),
        )
        for sku, name, category, price, house_brand in rows
    }


def _median_prices(skus: list[str]) -> dict[str, float]:
    if not skus:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sku, percentile_cont(0.5) WITHIN GROUP (ORDER BY unit_price) FROM cartportal_orderline "
            "WHERE sku = ANY(%s) AND quantity > 0 GROUP BY sku",
            [skus],
        )
        return {sku: float(price) for sku, price in cursor.fetchall()}


def bought_together_for_cart(skus, n: int = 5) -> list[dict]:
    """Products bought together with a cart's products (aggregates over every region's baskets, no customer in
    them): each with its support, confidence, lift and name; empty while no recommendation model is active."""
    model = active_recommender()
    if model is None or not skus:
        return []
    return [
        {**rule.as_dict(), "companion_name": model.label(rule.companion)} for rule in model.bought_together(skus, n)
    ]


def cart_skus_of_session(session) -> list[str]:
    """Products still in a session's cart: added and not removed again (in the order they were added)."""
    events = CartEvent.objects.filter(session=session, product__isnull=False).order_by("occurred_at", "pk")
    held: dict[str, int] = {}
    for kind, sku, quantity in events.values_list("kind", "product__sku", "quantity"):
        step = max(int(quantity or 1), 1)
        held[sku.upper()] = held.get(sku.upper(), 0) + (step if kind == CartEvent.Kind.ADD else 0)
        if kind == CartEvent.Kind.REMOVE:
            held[sku.upper()] -= step
    return [sku for sku, count in held.items() if count > 0]
