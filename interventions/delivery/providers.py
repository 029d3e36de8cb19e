"""Content providers for the reminder and the review reassurance: both are about the product the customer left
in a cart (or, without an open cart, the product they bought last), so both start from the same lookup."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count

from cartportal.models import CartEvent, OrderLine, Product, Review
from interventions.content import NothingToOffer, register
from predictions.abandonment.cart.features import without_shipping

# A score below this would not reassure anyone; a single review is an anecdote, not a rating.
MIN_RATING = 3.5
MIN_REVIEWS = 3


def carted_product(customer) -> Product | None:
    """The product of the customer's latest cart add that no later purchase of the same product followed
    (shipping lines are not products)."""
    events = without_shipping(CartEvent.objects.filter(customer=customer, product__isnull=False))
    bought: set[int] = set()
    for kind, product_id in events.order_by("-occurred_at", "-pk").values_list("kind", "product_id")[:200]:
        if kind == "purchase":
            bought.add(product_id)
        elif kind == "add" and product_id not in bought:
            return Product.objects.filter(pk=product_id).first()
    return None


def last_bought_product(customer) -> Product | None:
    lines = without_shipping(OrderLine.objects.filter(order__customer=customer, product__isnull=False, quantity__gt=0))
    line = lines.select_related("product").order_by("-order__placed_at", "-pk").first()
    return line.product if line else None


def _name(product: Product) -> str:
    return (product.name or product.sku).strip()


@register("reminder")
def reminder_content(*, customer, **context: Any) -> dict[str, Any]:
    product = carted_product(customer)
    if product is None or not _name(product):
        raise NothingToOffer("no product left in an open cart")
    return {"product": _name(product)}


@register("review_reassurance")
def review_reassurance_content(*, customer, **context: Any) -> dict[str, Any]:
    product = carted_product(customer) or last_bought_product(customer)
    if product is None or not _name(product):
        raise NothingToOffer("no carted or bought product to show reviews of")
    stats = Review.objects.filter(product=product, rating__isnull=False).aggregate(n=Count("pk"), mean=Avg("rating"))
    if stats["n"] < MIN_REVIEWS:
        raise NothingToOffer(f"fewer than {MIN_REVIEWS} rated reviews of the product")
    if stats["mean"] < MIN_RATING:
        raise NothingToOffer(f"the product's reviews average below {MIN_RATING}")
    return {"product": _name(product), "rating": f"{stats['mean']:.1f}", "review_count": stats["n"]}
