"""Content of the bundle and house-brand interventions, chosen by the recommender.

Both start from the customer's products: the cart given by the caller (a live session), else the products of
the customer's latest cart, else of their latest order. The bundle offer names the companion most often bought
together with one of them (highest lift above the bought-together settings) that the customer does not already
have; the house-brand offer names the closest cheaper or own-brand product of the same category.
"""

from __future__ import annotations

from typing import Any

from cartportal.models import CartEvent, OrderLine
from interventions import catalogue
from interventions.content import NothingToOffer, register
from predictions.recommend.alternatives import alternatives
from predictions.recommend.model import Recommender
from predictions.recommend.selectors import active_recommender, catalogue_unchecked
from predictions.recommend.together import Thresholds

RECENT_ITEMS = 20


@register("bundle_offer")
def bundle_offer(*, customer, cart: list[str] | None = None, **context: Any) -> dict[str, Any]:
    model, anchors, source = _start(customer, cart)
    owned = _owned(customer)
    thresholds = Thresholds.from_settings()
    for rule in model.bought_together(anchors, n=50, thresholds=thresholds):
        column = model.item_index[rule.companion]
        if rule.companion in owned and not model.repeat_items[column]:
            continue
        return {
            "product": model.label(rule.item),
            "product_sku": rule.item,
            "companion": model.label(rule.companion),
            "companion_sku": rule.companion,
            "discount": round(catalogue.get("bundle_offer").discount_rate * 100),
            "reason": f"bought together in {rule.baskets} baskets, {rule.lift:.1f} times more often than by chance",
        }
    raise NothingToOffer(
        f"no product is bought together with the {source} often enough (at least {thresholds.min_baskets} baskets, "
        f"confidence {thresholds.min_confidence:.0%}, lift {thresholds.min_lift:g}) that the customer does not have"
    )


@register("house_brand")
def house_brand(*, customer, cart: list[str] | None = None, **context: Any) -> dict[str, Any]:
    model, anchors, source = _start(customer, cart)
    products = catalogue_unchecked(set(anchors) | set(model.items))
    for sku in anchors:
        found = alternatives(model, sku, products, n=1)
        if found:
            best, original = found[0], products[sku]
            return {
                "product": original.name or original.sku,
                "product_sku": original.sku,
                "alternative": best.name or best.sku,
                "alternative_sku": best.sku,
                "price": f"{best.price:.2f}" if best.price is not None else "",
                "saving": best.saving,
                "house_brand": best.house_brand,
                "reason": best.reason,
            }
    raise NothingToOffer(
        f"no cheaper or own-brand product of the same category is close to the products of the {source}"
    )


def _start(customer, cart: list[str] | None) -> tuple[Recommender, list[str], str]:
    if not customer.consent_personalisation:
        raise NothingToOffer("the customer has not agreed to personalised offers")
    model = active_recommender()
    if model is None:
        raise NothingToOffer("no recommendation model is active yet (retrain it on the Models tab)")
    if cart:
        anchors, source = [str(s).strip().upper() for s in cart], "cart"
    else:
        anchors, source = _latest_cart(customer), "customer's latest cart"
        if not anchors:
            anchors, source = _latest_order(customer), "customer's latest order"
    known = [sku for sku in dict.fromkeys(anchors) if sku in model.item_index]
    if not known:
        raise NothingToOffer(f"the {source} holds no product the recommender knows" if anchors else _nothing(customer))
    return model, known, source


def _nothing(customer) -> str:
    return f"customer {customer.external_id} has no cart and no order to start from"


def _latest_cart(customer) -> list[str]:
    """Products added in the customer's latest session with cart adds, if it ended without a purchase."""
    events = CartEvent.objects.filter(customer=customer, session__isnull=False).order_by("-occurred_at")
    latest = events.filter(kind=CartEvent.Kind.ADD).values_list("session_id", flat=True).first()
    if latest is None or events.filter(session_id=latest, kind=CartEvent.Kind.PURCHASE).exists():
        return []
    rows = events.filter(session_id=latest, kind=CartEvent.Kind.ADD, product__isnull=False)
    return [sku.upper() for sku in rows.values_list("product__sku", flat=True)[:RECENT_ITEMS]]


def _latest_order(customer) -> list[str]:
    lines = OrderLine.objects.filter(order__customer=customer, quantity__gt=0).exclude(
        order__status__in=["cancelled", "returned"]
    )
    latest = lines.order_by("-order__placed_at").values_list("order_id", flat=True).first()
    if latest is None:
        return []
    return [sku.upper() for sku in lines.filter(order_id=latest).values_list("sku", flat=True)[:RECENT_ITEMS] if sku]


def _owned(customer) -> set[str]:
    skus = OrderLine.objects.filter(order__customer=customer, quantity__gt=0).values_list("sku", flat=True)
    return {sku.upper() for sku in skus if sku}
