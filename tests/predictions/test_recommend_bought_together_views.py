"""Products bought together with a cart: on the session page (through the region scope) and in the live
cart-scoring API, from the active recommender fitted on the real Online Retail baskets."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cartportal import access
from cartportal.models import CartEvent, Product, Region, Session
from tests.datasets import import_online_retail
from tests.predictions.helpers import activate_fitted_recommender

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(world, data_dir):
    import_online_retail(data_dir / "online_retail_first70050rows.csv")
    model = activate_fitted_recommender()
    uk = Region.objects.get(code="UNITED-KINGDOM")
    access.grant_region(world.manager_a, uk, access.REGIONAL_MANAGER)
    return model, uk


def _cart_session(region, anchor: str, removed: str) -> Session:
    session = Session.objects.create(external_id="cart-1", region=region, started_at=timezone.now())
    at = timezone.now() - dt.timedelta(minutes=5)
    steps = [(anchor, "add"), (removed, "add"), (removed, "remove")]
    for i, (sku, kind) in enumerate(steps):
        product = Product.objects.get(sku__iexact=sku)
        CartEvent.objects.create(
            session=session, region=region, product=product, kind=kind, occurred_at=at + dt.timedelta(seconds=i)
        )
    return session


def test_session_page_shows_what_is_bought_with_the_cart(world, shop):
    model, uk = shop
    anchor = model.items[int(model.buyers.argmax())]
    removed = model.items[int(model.buyers.argsort()[-2])]
    session = _cart_session(uk, anchor, removed)
    client = Client()
    client.force_login(world.manager_a)
    response = client.get(reverse("predictions:abandonment_session", args=[session.pk]))
    assert response.status_code == 200
    assert response.context["cart_skus"] == [anchor]
    expected = [r.companion for r in model.bought_together([anchor], 5)]
    assert expected and [r["companion"] for r in response.context["bought_together"]] == expected
    assert "Often bought together with this cart" in response.content.decode()
    foreign = Client()
    foreign.force_login(world.manager_b)
    assert foreign.get(reverse("predictions:abandonment_session", args=[session.pk])).status_code == 404


def test_cart_scoring_answer_lists_companions(world, shop):
    """What the live cart-scoring API adds to its answer (the abandonment model it also needs learns from cart
    events, which this export has none of, so the endpoint itself is exercised by the cart-scoring tests)."""
    from cartportal.api.serializers import LiveCartScoreSerializer
    from predictions.recommend.selectors import bought_together_for_cart

    model, _uk = shop
    anchor = model.items[int(model.buyers.argmax())]
    companions = bought_together_for_cart([anchor.lower(), "NO-SUCH-SKU"])
    rules = model.bought_together([anchor], 5)
    assert [c["companion"] for c in companions] == [r.companion for r in rules]
    assert companions[0]["lift"] == round(rules[0].lift, 2) and companions[0]["baskets"] == rules[0].baskets
    assert bought_together_for_cart([]) == []
    assert "bought_together" in LiveCartScoreSerializer().fields
