"""The intervention proposed for an open cart, from the driver that pushes its risk up the most.

The rule keeps each message honest: a price rise gets the shop's own cheaper alternative (never an invented
discount), a shipping cost that is a large share of a small cart gets a bundle, a poorly rated item an alternative
(reassurance only where the reviews are good), anything else a plain reminder. Customers without marketing consent
(or erased) get nothing."""

from __future__ import annotations

from cartportal.models import Customer
from interventions import catalogue

REASONS = {
    "house_brand_price": "an item's price has risen: offer the shop's own cheaper alternative",
    "bundle_offer": "shipping is a large share of the cart: a bundle spreads it over more items",
    "house_brand_reviews": "an item is poorly rated: suggest a better-rated alternative",
    "review_reassurance": "the items are well rated: show their reviews",
    "reminder": "no single cause to answer: a plain reminder of the saved cart",
}


def propose_for_cart(cart: dict) -> dict:
    customer_id = cart.get("customer_id")
    if customer_id is not None:
        customer = Customer.objects.filter(pk=customer_id).only("consent_marketing", "erased_at").first()
        if customer is not None and not catalogue.eligible(catalogue.get("reminder"), customer):
            return {"action": None, "name": "No intervention", "reason": "no marketing consent"}
    key = _rule(cart)
    code = key.removesuffix("_price").removesuffix("_reviews")
    return {"action": code, "name": catalogue.get(code).name, "reason": REASONS[key]}


def _rule(cart: dict) -> str:
    driver = cart.get("top_driver") or ""
    if driver == "price":
        return "house_brand_price"
    if driver == "shipping":
        return "bundle_offer"
    if driver == "reviews":
        return "house_brand_reviews" if (cart.get("low_rated_items") or 0) > 0 else "review_reassurance"
    return "reminder"
