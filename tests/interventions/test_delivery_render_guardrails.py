"""Every rendered message is checked at assignment time: no fake urgency, no false scarcity, no hidden cost, no
discount above the intervention's limit; nothing to offer is a counted refusal, not a failure."""

import datetime as dt

import pytest
from django.utils import timezone

from cartportal.models import CartEvent
from interventions import catalogue
from interventions.content import PROVIDERS, register
from interventions.delivery.render import render_message
from tests.factories import CustomerFactory, ProductFactory, ReviewFactory
from tests.interventions.test_campaign_loop_e2e import _with_open_cart

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "text,broken",
    [
        ("Your basket is saved. Fees apply at checkout.", "hidden cost"),
        ("Only 2 left in stock!", "fake scarcity"),
        ("Hurry, the offer ends tonight", "countdown"),
        ("Together they are 30% cheaper.", "discount over limit"),
    ],
)
def test_message_guardrails(text, broken):
    assert broken in catalogue.message_violations(catalogue.get("bundle_offer"), text)


def test_a_discount_within_the_limit_passes():
    assert catalogue.message_violations(catalogue.get("bundle_offer"), "Together they are 10% cheaper.") == []


def test_reminder_and_review_reassurance_render_from_the_cart(world):
    customer = _with_open_cart(world.region_a, 1, [ReviewFactory(rating=5).product])[0]
    product = customer.sessions.first().cart_events.first().product
    ReviewFactory.create_batch(2, product=product, rating=4)
    reminder = render_message("reminder", customer)
    assert reminder.refusal == "" and product.name in reminder.text
    reassurance = render_message("review_reassurance", customer)
    assert reassurance.refusal == "" and "rate it 4.3 out of 5 (3 reviews)" in reassurance.text


def test_a_shipping_line_is_not_the_product_a_reminder_names(world):
    """The latest cart add is the shipping line (CARTPORTAL_SHIPPING_SKUS): the reminder names the goods before it,
    and a cart holding nothing but shipping has nothing to remind of."""
    lamp = ProductFactory(name="Brass lamp")
    customer = _with_open_cart(world.region_a, 1, [lamp])[0]
    shipping = ProductFactory(sku="shipping", name="Shipping", price=4)
    CartEvent.objects.create(
        session=customer.sessions.first(),
        customer=customer,
        region=world.region_a,
        product=shipping,
        kind="add",
        unit_price=shipping.price,
        occurred_at=timezone.now() - dt.timedelta(days=1),
    )
    reminder = render_message("reminder", customer)
    assert reminder.refusal == "" and "You left Brass lamp in your cart" in reminder.text
    only_shipping = _with_open_cart(world.region_a, 1, [shipping])[0]
    assert render_message("reminder", only_shipping).refusal == "nothing to offer: no product left in an open cart"


def test_nothing_to_offer_and_missing_providers_are_refusals(world):
    bare = CustomerFactory(region=world.region_a)
    assert render_message("reminder", bare).refusal == "nothing to offer: no product left in an open cart"
    if "house_brand" not in PROVIDERS:
        assert "no content provider" in render_message("house_brand", bare).refusal


def test_a_provider_whose_message_breaks_a_guardrail_is_refused(world, monkeypatch):
    monkeypatch.setitem(PROVIDERS, "bundle_offer", PROVIDERS.get("bundle_offer"))
    register("bundle_offer")(lambda **kw: {"product": "Mug", "companion": "Saucer", "discount": 25})
    rendered = render_message("bundle_offer", CustomerFactory(region=world.region_a))
    assert rendered.refusal == "guardrail: discount over limit" and "25%" in rendered.text


def test_a_price_cut_beyond_the_largest_discount_is_refused(world, monkeypatch, settings):
    settings.CARTPORTAL_MAX_DISCOUNT_RATE = 0.3
    monkeypatch.setitem(PROVIDERS, "price_drop", PROVIDERS.get("price_drop"))
    register("price_drop")(lambda **kw: {"product": "Mug", "old_price": "10.00", "new_price": "6.00"})
    assert (
        render_message("price_drop", CustomerFactory(region=world.region_a)).refusal == "guardrail: discount over limit"
    )
    register("price_drop")(lambda **kw: {"product": "Mug", "old_price": "10.00", "new_price": "8.00"})
    assert render_message("price_drop", CustomerFactory(region=world.region_a)).refusal == ""
