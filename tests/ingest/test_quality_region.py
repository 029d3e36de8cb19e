"""The per-region data-quality report: each dimension's checks count the planted problems, rates divide by the
records looked at, examples name them, a manager sees only own regions; page, CSV and API agree."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cartportal.ingest.quality import region_quality
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, SessionFactory


def plant(world):
    region = world.region_a
    now = timezone.now()
    CustomerFactory(region=region, external_id="NO-FIRST-SEEN", first_seen=None)
    CustomerFactory(region=region, external_id="TWIN-1", email="same@example.org")
    CustomerFactory(region=region, external_id="TWIN-2", email="Same@example.org")
    buyer = CustomerFactory(region=region, external_id="BUYER")
    orders = [OrderFactory(customer=buyer, external_id=f"ORD-{i}", total=Decimal("25.00")) for i in range(24)]
    for order in orders:
        OrderLineFactory(order=order, line_no=1)
    big = orders[0]
    big.lines.update(amount=Decimal("5000.00"), unit_price=Decimal("5000.00"))
    big.total = Decimal("5000.00")
    big.save()
    orders[1].total = Decimal("99.00")  # lines sum to 25
    orders[1].save()
    orders[2].delivered_at = orders[2].placed_at - dt.timedelta(days=2)
    orders[2].save()
    OrderFactory(customer=buyer, external_id="ORD-REPEAT", placed_at=orders[3].placed_at, total=orders[3].total)
    SessionFactory(region=region, external_id="BOT", product_pages=400, product_duration=30.0, is_bot=True)
    SessionFactory(region=region, external_id="HUMAN", started_at=now - dt.timedelta(days=3))
    CustomerFactory(region=world.region_b, external_id="SOUTH-NO-DATE", first_seen=None)


def csv_rows(client, **params):
    response = client.get(reverse("ingest:quality"), {"format": "csv", **params})
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def by_check(entry):
    return {c["check"]: c for block in entry["dimensions"].values() for c in block["checks"]}


@pytest.mark.django_db
def test_counts_rates_and_examples_per_check(world):
    plant(world)
    [north] = region_quality(world.manager_a)
    assert north["region"] == world.region_a.code
    checks = by_check(north)
    assert checks["customers_without_first_seen"] | {"of": 4} == checks["customers_without_first_seen"]
    assert checks["customers_without_first_seen"]["count"] == 1
    assert checks["customers_without_first_seen"]["examples"] == ["NO-FIRST-SEEN"]
    assert checks["customers_without_first_seen"]["rate"] == 0.25
    assert (checks["shared_emails"]["count"], sorted(checks["shared_emails"]["examples"])) == (2, ["TWIN-1", "TWIN-2"])
    assert checks["outlier_lines"]["count"] == 1 and checks["outlier_lines"]["of"] == 24
    assert checks["outlier_lines"]["examples"] == ["ORD-0 line 1"]
    assert checks["order_total_mismatch"]["examples"] == ["ORD-1"]
    assert checks["delivered_before_placed"]["examples"] == ["ORD-2"]
    assert checks["repeated_orders"]["examples"] == ["ORD-REPEAT"]
    assert checks["bot_sessions"] | {"count": 1, "of": 2, "examples": ["BOT"]} == checks["bot_sessions"]
    timeliness = north["dimensions"]["timeliness"]
    assert timeliness["count"] == 0 and timeliness["age_days"] is not None
    completeness = north["dimensions"]["completeness"]
    assert completeness["count"] == 1 and completeness["of"] == 4 + 25
    assert round(completeness["rate"], 6) == round(1 / 29, 6)


@pytest.mark.django_db
def test_page_csv_and_api_agree_and_stay_in_scope(world, client):
    plant(world)
    client.force_login(world.manager_a)
    page = client.get(reverse("ingest:quality"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "NO-FIRST-SEEN" in body and "SOUTH-NO-DATE" not in body
    rows = csv_rows(client)
    assert {r["region"] for r in rows} == {world.region_a.code}
    assert {r["check"]: int(r["count"]) for r in rows}["outlier_lines"] == 1
    api = APIClient()
    api.force_authenticate(world.manager_a)
    data = api.get(reverse("api-import-quality")).json()
    assert [r["region"] for r in data["regions"]] == [world.region_a.code]
    assert by_check(data["regions"][0])["order_total_mismatch"]["count"] == 1

    client.force_login(world.executive)
    rows = csv_rows(client)
    assert {r["region"] for r in rows} >= {world.region_a.code, world.region_b.code}
    south = client.get(reverse("ingest:quality"), {"region": world.region_b.code}).content.decode()
    assert "SOUTH-NO-DATE" in south and "NO-FIRST-SEEN" not in south
