"""Elasticity recovery: on a generated history with known elasticities (-0.5, -1.5, -3 in three categories),
read back from the database, each category's interval contains the true value, the intervals are narrow
enough to tell the categories apart, and a region's estimate uses only that region's lines."""

import pytest

from cartportal.access import SystemActor
from predictions.price_response.selectors import elasticities, elasticity_for, history
from tests.predictions.price_history import TRUE_ELASTICITY, write_price_history

pytestmark = pytest.mark.django_db


def test_each_category_interval_contains_the_true_elasticity(world):
    write_price_history(world.region_a)
    found = elasticities(world.manager_a, region_ids=[world.region_a.pk])
    assert found["ready"], found
    assert set(found["category"]) == set(TRUE_ELASTICITY)
    for category, true in TRUE_ELASTICITY.items():
        estimate = found["category"][category]
        assert estimate["ci_low"] <= true <= estimate["ci_high"], (category, estimate)
        assert estimate["ci_high"] - estimate["ci_low"] < 0.4, estimate  # informative, not just wide
        assert estimate["products"] == 25
    ordered = [found["category"][c] for c in ("mugs", "candles", "cards")]
    assert ordered[0]["ci_low"] > ordered[1]["ci_high"] and ordered[1]["ci_low"] > ordered[2]["ci_high"]


def test_products_with_enough_weeks_get_their_own_interval(world):
    write_price_history(world.region_a, products_per_category=5, weeks=40, seed=3)
    found = elasticities(world.executive, region_ids=[world.region_a.pk])
    assert len(found["product"]) == 15
    covered = [e["ci_low"] <= TRUE_ELASTICITY[e["category"]] <= e["ci_high"] for e in found["product"].values()]
    assert sum(covered) >= 13  # 95 % intervals: one or two of fifteen may miss
    # a product that responds like its category gets the (more precise) category estimate
    one = elasticity_for(world.executive, sku=f"{world.region_a.code}-cards-0", category="cards")
    assert one["level"] == "category" and one["key"] == "cards"


def test_a_product_that_responds_differently_gets_its_own_estimate(world):
    elasticities_by_category = {"mugs": -0.5, "candles": -1.5, "cards": -3.0}
    write_price_history(
        world.region_a, products_per_category=6, weeks=40, seed=4, elasticities=elasticities_by_category
    )
    from cartportal.models import Product

    # one more "mugs" product whose demand is as elastic as the cards
    write_price_history(world.region_b, products_per_category=1, weeks=40, seed=9, elasticities={"mugs": -3.0})
    Product.objects.filter(sku=f"{world.region_b.code}-mugs-0").update(category="mugs")
    found = elasticity_for(world.executive, sku=f"{world.region_b.code}-mugs-0", category="mugs")
    assert found["level"] == "product" and found["ci_low"] <= -3.0 <= found["ci_high"]
    pooled = elasticity_for(world.executive, sku=f"{world.region_a.code}-mugs-0", category="mugs")
    assert pooled["level"] == "category" and -3.0 < pooled["elasticity"] < -0.5  # pooled over all seven mugs


def test_estimate_reads_only_visible_regions_and_says_why_when_it_cannot(world):
    write_price_history(world.region_b, products_per_category=4, weeks=10)
    assert history(world.manager_a).empty
    nothing = elasticities(world.manager_a)
    assert nothing == {"ready": False, "reason": "no sold order lines with a product and a price yet"}
    seen = elasticities(SystemActor("task:test"), region_ids=[world.region_b.pk])
    assert seen["ready"] and set(seen["category"]) == set(TRUE_ELASTICITY)


def test_a_history_whose_prices_never_moved_gives_a_reason(world):
    write_price_history(world.region_a, products_per_category=4, weeks=6, seed=5)
    from cartportal.models import OrderLine

    for line in OrderLine.objects.filter(region=world.region_a).select_related("product"):
        line.unit_price = line.product.price
        line.save(update_fields=["unit_price"])
    found = elasticities(world.manager_a)
    assert not found["ready"] and "price moved" in found["reason"]


def test_the_estimate_is_kept_through_a_restart_of_the_cache_and_refitted_on_new_lines(world, monkeypatch):
    """The simulator's first page after a restart of the cache server refitted the elasticities in the request
    (3.6 s on a 1M-customer shop): the estimate is a rollup now, kept in PostgreSQL too, so it is read back; a new
    order line makes it stale and it is refitted."""
    from django.core.cache import cache

    from cartportal.models import Order, OrderLine
    from predictions.price_response import selectors

    products = write_price_history(world.region_a, products_per_category=4, weeks=10)
    fits = []
    real = selectors._estimate
    monkeypatch.setattr(selectors, "_estimate", lambda *a: fits.append(a) or real(*a))
    first = elasticities(world.manager_a)
    assert first["ready"] and len(fits) == 1
    cache.clear()  # the cache server restarted: its memory is gone, PostgreSQL's is not
    assert elasticities(world.manager_a) == first and len(fits) == 1
    line = OrderLine.objects.filter(product=products[0]).order_by("pk").first()
    order = Order.objects.create(
        external_id="one-more-week", customer=line.order.customer, region=world.region_a, placed_at=line.order.placed_at
    )
    OrderLine.objects.create(
        order=order,
        region=world.region_a,
        line_no=1,
        product=products[0],
        sku=products[0].sku,
        quantity=3,
        unit_price=line.unit_price,
        amount=line.unit_price * 3,
    )
    assert elasticities(world.manager_a)["ready"] and len(fits) == 2
