"""The price-drop nudge's content: the discount that maximises expected margin from the estimated price
response, within the guardrail's limit, or a refusal that says why."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from cartportal.models import CartEvent, Product
from interventions import content
from interventions.catalogue import CATALOGUE, guardrail_violations
from interventions.offers.pricing import best_discount
from predictions.price_response.selectors import elasticities
from tests.factories import CartEventFactory, CustomerFactory, OrderFactory, OrderLineFactory, SessionFactory
from tests.predictions.price_history import write_price_history

pytestmark = pytest.mark.django_db


def _carted(customer, product, *, days_ago=1):
    session = SessionFactory(region=customer.region, customer=customer)
    return CartEventFactory(
        session=session,
        customer=customer,
        product=product,
        kind=CartEvent.Kind.ADD,
        unit_price=product.price,
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def test_best_discount_matches_the_margin_optimum():
    # optimum of (1-d)**e * ((1-d) - (1-m)): 1-d = e(1-m)/(e+1); e=-3, m=0.5 -> d=0.25
    assert best_discount(-3.0, gross_margin=0.5, limit=0.3).discount == pytest.approx(0.25)
    assert best_discount(-3.0, gross_margin=0.5, limit=0.2).discount == pytest.approx(0.2)  # the limit binds
    assert best_discount(-3.0, gross_margin=0.3, limit=0.3).discount == 0.0  # e > -1/m: a discount loses margin
    assert best_discount(-0.5, gross_margin=0.9, limit=0.3).discount == 0.0


@override_settings(CARTPORTAL_GROSS_MARGIN=0.5, CARTPORTAL_MAX_DISCOUNT_RATE=0.3)
def test_price_drop_fills_the_margin_maximising_discount_for_the_carted_item(world):
    products = write_price_history(world.region_a)
    cards = next(p for p in products if p.category == "cards")
    customer = CustomerFactory(region=world.region_a)
    _carted(customer, cards)
    values = content.offer_content(intervention_code="price_drop", customer=customer)
    estimate = elasticities(world.manager_a)["category"]["cards"]
    e = values["elasticity"]
    assert values["sku"] == cards.sku and values["elasticity_level"] in ("category", "product")
    assert values["elasticity_level"] == "category" and e == estimate["elasticity"]
    assert values["discount_rate"] == pytest.approx(1 - e * 0.5 / (e + 1), abs=0.006)
    assert 0.2 < values["discount_rate"] <= 0.3 and values["expected_margin_change"] > 0
    price = float(cards.price)
    assert values["old_price"] == f"{price:.2f}"
    assert values["new_price"] == f"{round(price * (1 - values['discount_rate']), 2):.2f}"
    text = CATALOGUE["price_drop"].template.format(**values)
    assert cards.name in text and guardrail_violations(text) == []

    with override_settings(CARTPORTAL_MAX_DISCOUNT_RATE=0.1):
        assert content.offer_content(intervention_code="price_drop", customer=customer)["discount_rate"] == 0.1


@override_settings(CARTPORTAL_GROSS_MARGIN=0.5)
def test_price_drop_refuses_with_a_reason(world):
    products = write_price_history(world.region_a)
    customer = CustomerFactory(region=world.region_a)
    with pytest.raises(content.NothingToOffer, match="no item left in a cart"):
        content.offer_content(intervention_code="price_drop", customer=customer)

    mugs = next(p for p in products if p.category == "mugs")
    _carted(customer, mugs)
    with pytest.raises(content.NothingToOffer, match="no discount up to 30% raises the expected margin") as refused:
        content.offer_content(intervention_code="price_drop", customer=customer)
    assert refused.value.code == "nothing_to_offer" and "elasticity -0." in refused.value.reason

    # bought after carting it: not a candidate any more; the earlier carted item is
    order = OrderFactory(customer=customer, placed_at=timezone.now())
    OrderLineFactory(order=order, product=mugs, quantity=1, unit_price=mugs.price, amount=mugs.price)
    cards = next(p for p in products if p.category == "cards")
    _carted(customer, cards, days_ago=3)
    assert content.offer_content(intervention_code="price_drop", customer=customer)["sku"] == cards.sku

    # a customer of another region: region B has no history, so no price response
    other = CustomerFactory(region=world.region_b)
    stranger = Product.objects.create(sku="B-1", name="Lamp", category="cards", price=Decimal("10"))
    _carted(other, stranger)
    with pytest.raises(content.NothingToOffer, match="no price response is estimated for Lamp"):
        content.offer_content(intervention_code="price_drop", customer=other)


def test_codes_without_a_provider_use_the_default():
    assert "price_drop" in content.PROVIDERS
    with pytest.raises(content.NothingToOffer, match="no content provider yet"):
        content.offer_content(intervention_code="no_such_code", customer=None)
