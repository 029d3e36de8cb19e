"""The price-drop nudge's content: which item to reduce, and by how much.

The item is the one the customer last put in a cart without buying it (or the product the caller names). The
discount maximises the expected margin of that item from its price response: at a discount d the price is
p (1 - d), demand moves by (1 - d) ** elasticity, and each unit earns p (1 - d) - c, where the unit cost c is
p (1 - CARTPORTAL_GROSS_MARGIN) when the catalogue carries no cost. The search runs in whole per cent up to the
guardrail's limit (CARTPORTAL_MAX_DISCOUNT_RATE). When no discount within the limit raises the expected margin
above the full price (demand too inelastic for the margin), or the price response is not measurably negative,
there is nothing sensible to offer and the provider says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from cartportal.access import SystemActor
from cartportal.models import CartEvent, OrderLine, Product
from interventions import content
from predictions.abandonment.cart.features import without_shipping
from predictions.price_response.selectors import elasticity_for


@dataclass(frozen=True)
class DiscountChoice:
    discount: float  # share of the price given away
    margin_change: float  # expected margin at this discount over the expected margin at full price, minus 1


def expected_margin(discount: float, elasticity: float, gross_margin: float) -> float:
    """Expected margin per unit demanded at full price (price = 1)."""
    price = 1.0 - discount
    return price**elasticity * (price - (1.0 - gross_margin))


def best_discount(elasticity: float, *, gross_margin: float, limit: float) -> DiscountChoice:
    """The whole-per-cent discount up to `limit` with the highest expected margin (0 when none beats full price)."""
    full = expected_margin(0.0, elasticity, gross_margin)
    best = DiscountChoice(0.0, 0.0)
    for percent in range(1, int(round(limit * 100)) + 1):
        value = expected_margin(percent / 100, elasticity, gross_margin)
        change = value / full - 1.0 if full > 0 else 0.0
        if change > best.margin_change + 1e-12:
            best = DiscountChoice(percent / 100, change)
    return best


def _carted_product(customer) -> tuple[Product, float | None] | None:
    """The latest product the customer added to a cart and has not bought since (shipping lines are not products)."""
    adds = without_shipping(CartEvent.objects.filter(customer=customer, kind=CartEvent.Kind.ADD, product__isnull=False))
    for event in adds.select_related("product").order_by("-occurred_at", "-id")[:20]:
        bought = OrderLine.objects.filter(
            order__customer=customer, product=event.product, order__placed_at__gte=event.occurred_at, quantity__gt=0
        ).exists()
        if not bought:
            return event.product, float(event.unit_price) if event.unit_price is not None else None
    return None


def _product_and_price(customer, product: Product | str | None) -> tuple[Product, float]:
    seen_price = None
    if isinstance(product, str):
        product = Product.objects.filter(sku=product).first()
        if product is None:
            raise content.NothingToOffer("the product named is not in the catalogue")
    if product is None:
        found = _carted_product(customer)
        if found is None:
            raise content.NothingToOffer("the customer has no item left in a cart to offer a lower price on")
        product, seen_price = found
    price = float(product.price) if product.price is not None else seen_price
    if not price or price <= 0:
        raise content.NothingToOffer(f"{product.name or product.sku} has no known price")
    return product, price


@content.register("price_drop")
def price_drop_content(*, customer, product: Product | str | None = None, **context) -> dict:
    """Template values for the price-drop nudge, or NothingToOffer with the reason."""
    product, price = _product_and_price(customer, product)
    scope = SystemActor("content:price_drop", region_ids=[customer.region_id])
    found = elasticity_for(scope, sku=product.sku, category=product.category, region_ids=[customer.region_id])
    name = product.name or product.sku
    if found is None:
        raise content.NothingToOffer(f"no price response is estimated for {name} or its category yet")
    if found["ci_high"] >= 0:
        raise content.NothingToOffer(
            f"demand for {name} does not measurably fall with its price "
            f"(elasticity {found['elasticity']:.2f}, interval {found['ci_low']:.2f} to {found['ci_high']:.2f})"
        )
    limit = settings.CARTPORTAL_MAX_DISCOUNT_RATE
    choice = best_discount(found["elasticity"], gross_margin=settings.CARTPORTAL_GROSS_MARGIN, limit=limit)
    if choice.discount <= 0:
        raise content.NothingToOffer(
            f"no discount up to {limit:.0%} raises the expected margin on {name} "
            f"(elasticity {found['elasticity']:.2f}: demand does not grow enough to pay for a lower price)"
        )
    new_price = round(price * (1 - choice.discount), 2)
    return {
        "product": name,
        "sku": product.sku,
        "old_price": f"{price:.2f}",
        "new_price": f"{new_price:.2f}",
        "discount": round(choice.discount * 100),
        "discount_rate": choice.discount,
        "expected_margin_change": round(choice.margin_change, 4),
        "elasticity": found["elasticity"],
        "elasticity_level": found["level"],
        "elasticity_interval": [found["ci_low"], found["ci_high"]],
    }
