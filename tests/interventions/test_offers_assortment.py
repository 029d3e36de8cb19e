"""The bundle and house-brand interventions fill their templates from the active recommender (real Online Retail
purchases in PostgreSQL), and refuse with a reason a person can read when there is nothing sensible to offer."""

import pytest
from django.db.models import Count
from django.test import override_settings

from cartportal.access import SystemActor
from cartportal.models import Customer, OrderLine, Product
from interventions import catalogue
from interventions.content import PROVIDERS, NothingToOffer, offer_content
from tests.datasets import import_online_retail
from tests.predictions.helpers import activate_fitted_recommender

pytestmark = pytest.mark.django_db
ACTOR = SystemActor("command:test")


@pytest.fixture
def model(data_dir, world):
    import_online_retail(data_dir / "online_retail_first70050rows.csv")
    return activate_fitted_recommender()


def _regular() -> Customer:
    """The customer with the most purchased lines."""
    top = (
        OrderLine.objects.filter(quantity__gt=0, order__status="placed")
        .values("order__customer")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    return Customer.objects.get(pk=top["order__customer"])


def _fill(code: str, content: dict) -> str:
    text = catalogue.get(code).template.format(**content)
    assert catalogue.guardrail_violations(text) == []
    return text


def test_providers_are_registered_for_their_codes():
    assert {"bundle_offer", "house_brand"} <= set(PROVIDERS)


def test_bundle_offer_names_a_companion_bought_together_with_the_latest_order(model):
    customer = _regular()
    content = offer_content(intervention_code="bundle_offer", customer=customer)
    latest = OrderLine.objects.filter(order__customer=customer).order_by("-order__placed_at").first().order_id
    in_latest = {s.upper() for s in OrderLine.objects.filter(order_id=latest).values_list("sku", flat=True)}
    assert content["product_sku"] in in_latest
    rules = {r.companion: r for r in model.bought_together([content["product_sku"]], n=500)}
    assert content["companion_sku"] in rules
    owned = {s.upper() for s in OrderLine.objects.filter(order__customer=customer).values_list("sku", flat=True)}
    assert content["companion_sku"] not in owned or model.repeat_items[model.item_index[content["companion_sku"]]]
    assert content["discount"] == 10
    assert f"{rules[content['companion_sku']].baskets} baskets" in content["reason"]
    assert content["companion"] in _fill("bundle_offer", content)


def test_bundle_offer_refuses_with_a_reason(model, world):
    customer = _regular()
    with override_settings(BOUGHT_TOGETHER_MIN_BASKETS=10**6):
        with pytest.raises(NothingToOffer, match="bought together with the customer's latest order often enough"):
            offer_content(intervention_code="bundle_offer", customer=customer)
    with pytest.raises(NothingToOffer, match="holds no product the recommender knows"):
        offer_content(intervention_code="bundle_offer", customer=customer, cart=["NO-SUCH-SKU"])
    newcomer = Customer.objects.create(external_id="newcomer", region=customer.region)
    with pytest.raises(NothingToOffer, match="has no cart and no order"):
        offer_content(intervention_code="bundle_offer", customer=newcomer)
    Customer.objects.filter(pk=customer.pk).update(consent_personalisation=False)
    customer.refresh_from_db()
    with pytest.raises(NothingToOffer, match="not agreed to personalised offers"):
        offer_content(intervention_code="bundle_offer", customer=customer)


def test_no_active_model_is_a_reason_not_an_error(world):
    customer = Customer.objects.create(external_id="someone", region=world.region_a)
    for code in ("bundle_offer", "house_brand"):
        with pytest.raises(NothingToOffer, match="no recommendation model is active"):
            offer_content(intervention_code=code, customer=customer)


def test_house_brand_offers_a_cheaper_close_product_of_the_same_family(model):
    customer = _regular()
    content = offer_content(intervention_code="house_brand", customer=customer)
    original = Product.objects.get(sku__iexact=content["product_sku"])
    alternative = Product.objects.get(sku__iexact=content["alternative_sku"])
    assert alternative.sku[:3] == original.sku[:3]  # no categories in this export: the stock-code family
    assert alternative.price < original.price and content["saving"] == pytest.approx(
        float(original.price - alternative.price), abs=0.01
    )
    assert content["price"] == f"{alternative.price:.2f}"
    assert alternative.sku.upper() in {s for s, _ in model.similar_items(original.sku, 200)}
    assert content["alternative"] in _fill("house_brand", content)


def test_house_brand_flag_qualifies_and_no_alternative_is_a_reason(model):
    customer = _regular()
    anchor = model.items[int(model.buyers.argmax())]
    family = Product.objects.filter(sku__startswith=anchor[:3])
    price = Product.objects.get(sku__iexact=anchor).price
    family.update(price=price, house_brand=False)  # nothing cheaper, nothing own-brand
    with pytest.raises(NothingToOffer, match="no cheaper or own-brand product of the same category"):
        offer_content(intervention_code="house_brand", customer=customer, cart=[anchor])
    closest = next(sku for sku, _ in model.similar_items(anchor, 500) if sku[:3] == anchor[:3])
    Product.objects.filter(sku__iexact=closest).update(house_brand=True)
    content = offer_content(intervention_code="house_brand", customer=customer, cart=[anchor])
    assert content["alternative_sku"] == closest and content["house_brand"] is True
    assert content["reason"].startswith("our own brand")
