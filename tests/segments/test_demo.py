"""The demo builder leaves the Segmentation tab filled: segments, personas, twelve snapshots and one audience per
region with buyers; running it again re-evaluates the audience instead of adding another."""

import datetime as dt
import random
from decimal import Decimal
from io import StringIO

import pytest

from segments.demo import AUDIENCE_NAME, build_demo
from segments.models import AudienceDefinition, CustomerProfile, PersonaRun, ProfileSnapshot, Segment
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory, RegionFactory

END = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)


def _shop(region, customers: int, rng: random.Random):
    products = [
        ProductFactory(category=c, price=Decimal(p)) for c, p in [("home", "10"), ("garden", "30"), ("toys", "5")]
    ]
    for _ in range(customers):
        customer = CustomerFactory(region=region)
        for _ in range(rng.randint(1, 3)):
            order = OrderFactory(customer=customer, placed_at=END - dt.timedelta(days=rng.randint(0, 300)))
            for line_no, product in enumerate(rng.sample(products, rng.randint(1, 3)), start=1):
                price = product.price * Decimal(rng.choice(["0.8", "1", "1"]))
                OrderLineFactory(order=order, product=product, line_no=line_no, unit_price=price, amount=price)
    OrderFactory(customer=customer, placed_at=END - dt.timedelta(days=400))  # a buyer in every snapshotted month


@pytest.mark.django_db
def test_demo_fills_segments_personas_snapshots_and_one_audience_per_region():
    rng = random.Random(3)
    north, south, empty = RegionFactory(code="NORTH"), RegionFactory(code="SOUTH"), RegionFactory(code="EMPTY")
    _shop(north, 30, rng)
    _shop(south, 20, rng)
    out = StringIO()
    build_demo(out)

    assert CustomerProfile.objects.filter(region=north).exclude(value_group="").count() == 30
    assert {r.region.code for r in PersonaRun.objects.select_related("region")} == {"NORTH", "SOUTH"}
    assert CustomerProfile.objects.filter(region=north).exclude(persona="").count() == 30
    assert Segment.objects.filter(region=south, kind="persona").exists()
    assert ProfileSnapshot.objects.values("month").distinct().count() == 12
    audiences = AudienceDefinition.objects.filter(name=AUDIENCE_NAME)
    assert sorted(a.region.code for a in audiences) == ["NORTH", "SOUTH"]
    north_audience = audiences.get(region=north)
    assert sum(s["size"] for s in north_audience.result["segments"]) == 30
    assert not AudienceDefinition.objects.filter(region=empty).exists()
    assert "persona runs" in out.getvalue()

    first = north_audience.evaluated_at
    build_demo(StringIO())
    assert AudienceDefinition.objects.filter(name=AUDIENCE_NAME).count() == 2
    assert audiences.get(region=north).evaluated_at > first
