"""Live cart scoring reads one cart with a handful of indexed queries (predictions/abandonment/cart/single.py); the
batch path (features.assemble) is the reference. On generated carts both give the same feature values, the same
probability and the same driver sentences, so the two paths cannot drift apart; the number of queries per call is
bounded."""

import datetime as dt
import math
import random

import pytest
from django.db import connection
from django.db.models import Count, Max
from django.test.utils import CaptureQueriesContext

from cartportal.access import SystemActor
from cartportal.models import CartEvent, Customer, Product, Region
from predictions.abandonment import services
from predictions.abandonment.cart import live, single
from predictions.abandonment.cart.features import FACTS, FEATURES
from predictions.abandonment.services import abandonment_train
from tests.predictions.cartshop import load_generated_shop

QUERIES_PER_CALL = 7  # active version, products, customer, recent prices, reviews, customer history, the proposal


@pytest.fixture
def trained(db):
    load_generated_shop(customers=700)
    _model, version = abandonment_train(actor=SystemActor("task:retrain"), iterations=80)
    return services.latest_model(), version


def _carts(n: int, seed: int = 7):
    rnd = random.Random(seed)
    region = Region.objects.get(code="UK")
    products = list(Product.objects.annotate(adds=Count("cartevent")).filter(adds__gt=0).order_by("pk")[:400])
    customers = list(Customer.objects.filter(region=region).annotate(n=Count("orders")).order_by("-n", "pk")[:60])
    latest = CartEvent.objects.aggregate(m=Max("occurred_at"))["m"]
    for _ in range(n):
        chosen = rnd.sample(products, rnd.randint(1, 10))
        items = [
            {
                "product_id": p.sku,
                "price": round(float(p.price or 10) * rnd.choice([0.8, 1.0, 1.0, 1.1, 1.4, 2.0]), 2),
                "quantity": rnd.randint(1, 3),
            }
            for p in chosen
        ]
        if rnd.random() < 0.2:  # the same product twice: one item at its latest price
            items.append({**items[0], "price": items[0]["price"] * 1.2})
        if rnd.random() < 0.2:
            items.append({"product_id": f"UNKNOWN-{rnd.randint(1, 99)}", "price": 12.5, "quantity": 1})
        cart = {
            "items": items,
            "shipping_cost": rnd.choice([None, 0.0, 4.99, round(rnd.uniform(1, 40), 2)]),
            "device": rnd.choice(["", "Mobile", "desktop ", "tablet"]),
            "traffic_source": rnd.choice(["", "email", "Organic"]),
            "removes": rnd.choice([0, 0, 1, 3]),
        }
        if rnd.random() < 0.4:
            cart["minutes_in_session"] = rnd.uniform(0, 90)
        customer = rnd.choice([None, *customers])
        now = latest - dt.timedelta(days=rnd.uniform(0, 120), minutes=rnd.randint(0, 1440))
        yield cart, region, customer, now


def _same(a, b) -> bool:
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in (a, b)]
    if any(missing):
        return all(missing)
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def test_lean_path_gives_the_batch_features_probability_and_drivers(trained):
    model, _version = trained
    checked = 0
    for cart, region, customer, now in _carts(60):
        products = live._products(cart)
        row = single.cart_features(
            cart, region=region, products=products, customer_id=getattr(customer, "pk", None), t=now
        )
        batch = live.batch_features(cart, region=region, customer=customer, now=now).iloc[0]
        differing = {n: (row[n], batch[n]) for n in [*FEATURES, *FACTS] if not _same(row[n], batch[n])}
        assert not differing, (cart, differing)
        lean_p, lean_drivers = model.explain(single.frame(row, live.LIVE_CART))
        batch_p, batch_drivers = model.explain(live.batch_features(cart, region=region, customer=customer, now=now))
        assert lean_p[0] == pytest.approx(batch_p[0], abs=1e-12)
        assert [d["sentence"] for d in lean_drivers[0]] == [d["sentence"] for d in batch_drivers[0]]
        checked += 1
    assert checked == 60


def test_the_generated_carts_cover_what_the_features_distinguish(trained):
    """The comparison above means something only if the carts exercise each feature: rises, shipping, reviews,
    returning customers, removals."""
    rows = []
    for cart, region, customer, now in _carts(60):
        rows.append(
            single.cart_features(
                cart, region=region, products=live._products(cart), customer_id=getattr(customer, "pk", None), t=now
            )
        )
    assert sum(r["risen_items"] > 0 for r in rows) >= 10
    assert sum(r["shipping_share"] > 0 for r in rows if not math.isnan(r["shipping_share"])) >= 10
    assert sum(r["cart_reviews"] > 0 for r in rows) >= 10
    assert sum(r["prior_orders"] > 0 for r in rows if not math.isnan(r["prior_orders"])) >= 5
    assert sum(r["removes"] > 0 for r in rows) >= 10


def test_one_live_call_runs_a_bounded_number_of_queries_and_loads_the_model_once(trained):
    _model, version = trained
    region = Region.objects.get(code="UK")
    customer = Customer.objects.filter(region=region).annotate(n=Count("orders")).order_by("-n").first()
    skus = list(Product.objects.annotate(adds=Count("cartevent")).filter(adds__gt=0).values_list("sku", flat=True)[:10])
    cart = {
        "items": [{"product_id": sku, "price": 20.0, "quantity": 1} for sku in skus],
        "shipping_cost": 5.0,
        "customer_id": customer.external_id,
        "minutes_in_session": 12,
    }
    services._loaded.clear()
    first = live.score_cart(cart, region=region, customers=Customer.objects.all())
    assert services._loaded[services.KIND][0][0] == version.pk
    loaded = services._loaded[services.KIND][1]
    with CaptureQueriesContext(connection) as queries:
        second = live.score_cart(cart, region=region, customers=Customer.objects.all())
    assert len(queries) <= QUERIES_PER_CALL, [q["sql"][:120] for q in queries]
    assert services._loaded[services.KIND][1] is loaded  # not unpickled again
    assert second["probability"] == first["probability"] and second["unknown"] == {"products": [], "customer": None}
