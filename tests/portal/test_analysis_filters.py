"""The analysis filters (region, period, category, device, customer segment) on every analysis page: each page's
figures and its CSV export match an independent count of the same rows, the filters stay in the address, bad
values are refused with a message, and the region filter never widens a manager's scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from cartportal.models import CartEvent, Customer, Order, OrderLine, Product, Session
from segments.models import CustomerProfile, ProfileSnapshot
from tests.base import login_through_form
from tests.factories import CartEventFactory, CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

CATEGORIES = ["home", "garden", "toys"]
DEVICES = ["mobile", "desktop", "tablet"]
FILTERS = [
    {},
    {"from": "2024-04-01", "to": "2024-08-31"},
    {"category": "garden"},
    {"device": "mobile"},
    {"segment": "rfm:champions"},
    {"segment": "value_group:loyal", "device": "desktop"},
    {"from": "2024-03-01", "category": "toys", "segment": "rfm:at_risk"},
]


def _day(rng: random.Random) -> dt.datetime:
    return dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=rng.randrange(330), hours=rng.randrange(8))


@pytest.fixture
def shop(world):
    """Customers in both regions with a device, an acquisition date, orders and sessions across three categories,
    and segment memberships; plus a published abandonment run over their open carts."""
    from predictions.models import ModelVersion, Score, ScoringRun

    rng = random.Random(18)
    products = {c: [ProductFactory(category=c, price=Decimal("10")) for _ in range(2)] for c in CATEGORIES}
    version = ModelVersion.objects.create(kind="abandonment", algorithm="test", artifact=b"", checksum="0")
    run = ScoringRun.objects.create(
        model_version=version, kind="abandonment", state="published", published_at=timezone.now()
    )
    for region, count in ((world.region_a, 60), (world.region_b, 15)):
        for _ in range(count):
            customer = CustomerFactory(region=region, device=rng.choice(DEVICES), first_seen=_day(rng))
            CustomerProfile.objects.create(
                customer=customer,
                region=region,
                built_at=timezone.now(),
                reference_at=timezone.now(),
                frequency=1,
                monetary=Decimal(rng.randrange(10, 500)),
                rfm_segment=rng.choice(["champions", "at_risk"]),
                value_group=rng.choice(["loyal", "one_time"]),
                dormant=rng.random() < 0.3,
            )
            for _ in range(rng.randrange(1, 4)):
                order = OrderFactory(customer=customer, region=region, placed_at=_day(rng))
                for category in rng.sample(CATEGORIES, rng.randrange(1, 3)):
                    OrderLineFactory(order=order, product=rng.choice(products[category]))
            for _ in range(rng.randrange(0, 3)):
                session = Session.objects.create(
                    external_id=f"s-{region.code}-{Session.objects.count()}",
                    region=region,
                    customer=customer,
                    device=rng.choice(DEVICES),
                    started_at=_day(rng),
                    visitor_type=rng.choice(["New_Visitor", "Returning_Visitor"]),
                    product_pages=rng.randrange(0, 30),
                    converted=rng.random() < 0.3,
                )
                for category in rng.sample(CATEGORIES, rng.randrange(1, 3)):
                    CartEventFactory(
                        session=session, product=rng.choice(products[category]), occurred_at=session.started_at
                    )
                probability = round(rng.random(), 3)
                Score.objects.create(
                    run=run,
                    region=region,
                    session=session,  # a cart's score: the session carries the customer (one score per customer)
                    value=probability,
                    extra={"expected_loss": round(probability * 20, 2), "cart_value": 20.0, "reasons": []},
                    contributions={"price": probability},
                )
    # Fresh planner statistics for the rows just written, as an import leaves them (it analyses the tables it fills):
    # with the statistics of empty tables, the filters' nested subqueries were once planned as nested loops over
    # every row and one page took minutes.
    with connection.cursor() as cursor:
        for model in (Customer, Order, OrderLine, Product, Session, CartEvent, CustomerProfile, ProfileSnapshot, Score):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return world


# --- independent counts, written with the ORM (the pages use SQL) ----------------------------------------------


def _period_q(params: dict, field: str) -> Q:
    """Rows whose `field` lies in the period (both days included)."""
    q = Q()
    if params.get("from"):
        q &= Q(**{f"{field}__gte": dt.datetime.fromisoformat(params["from"]).replace(tzinfo=dt.UTC)})
    if params.get("to"):
        end = dt.datetime.fromisoformat(params["to"]).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
        q &= Q(**{f"{field}__lt": end})
    return q


def _segment_customers(params: dict):
    kind, _, code = params["segment"].partition(":")
    column = {"rfm": "rfm_segment", "value_group": "value_group"}[kind]
    return CustomerProfile.objects.filter(**{column: code}).values("customer_id")


def expected_orders(world, params: dict):
    orders = Order.objects.filter(region=world.region_a).filter(_period_q(params, "placed_at"))
    if params.get("category"):
        orders = orders.filter(
            Exists(OrderLine.objects.filter(order=OuterRef("pk"), product__category=params["category"]))
        )
    if params.get("device"):
        orders = orders.filter(customer__device=params["device"])
    if params.get("segment"):
        orders = orders.filter(customer_id__in=_segment_customers(params))
    return orders


def expected_sessions(world, params: dict):
    sessions = Session.objects.filter(region=world.region_a, is_bot=False).filter(_period_q(params, "started_at"))
    if params.get("category"):
        in_category = CartEvent.objects.filter(session=OuterRef("pk"), product__category=params["category"])
        sessions = sessions.filter(Exists(in_category))
    if params.get("device"):
        sessions = sessions.filter(device=params["device"])
    if params.get("segment"):
        sessions = sessions.filter(customer_id__in=_segment_customers(params))
    return sessions


def expected_customers(world, params: dict):
    customers = Customer.objects.filter(region=world.region_a).filter(_period_q(params, "first_seen"))
    if params.get("category"):
        bought = OrderLine.objects.filter(order__customer=OuterRef("pk"), product__category=params["category"])
        customers = customers.filter(Exists(bought))
    if params.get("device"):
        customers = customers.filter(device=params["device"])
    if params.get("segment"):
        customers = customers.filter(pk__in=_segment_customers(params))
    return customers


def export(client, url: str, params: dict, **extra) -> list[list[str]]:
    response = client.get(url, {**params, "format": "csv", **extra})
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))[1:]


# --- each page honours each filter -------------------------------------------------------------------------------


def test_insights_honour_each_filter(shop):
    client = login_through_form(shop.manager_a.username)
    for params in FILTERS:
        _check_insights(client, shop, params)


def _check_insights(client, shop, params: dict) -> None:
    orders = expected_orders(shop, params)
    if params:  # every filter of the list keeps some orders and leaves others out
        assert 0 < orders.count() < expected_orders(shop, {}).count(), params
    by_category = {
        c: orders.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), product__category=c))).count()
        for c in CATEGORIES
    }
    rows = export(client, reverse("portal:insights"), params, table="categories")
    assert {r[0]: int(r[1]) for r in rows} == {c: n for c, n in by_category.items() if n}
    depth = export(client, reverse("portal:insights"), params, table="depth")
    assert sum(int(r[1]) for r in depth) == expected_sessions(shop, params).count()
    months = export(client, reverse("portal:insights"), params, table="frequency")
    assert sum(int(r[1]) for r in months) == orders.count()


def test_clv_honours_each_filter(shop):
    client = login_through_form(shop.manager_a.username)
    for params in FILTERS:
        rows = export(client, reverse("predictions:clv"), params)
        assert sum(int(r[2]) for r in rows) == expected_customers(shop, params).count(), params
        assert {r[1] for r in rows} == {"NORTH"}, params


def test_segments_honour_each_filter(shop):
    """Unfiltered, the page shows the sizes its last rebuild kept; filtered, it counts the kept memberships."""
    client = login_through_form(shop.manager_a.username)
    for params in FILTERS[1:]:
        _check_segments(client, shop, params)


def _check_segments(client, shop, params: dict) -> None:
    rows = export(client, reverse("segments:index"), params)
    customers = expected_customers(shop, params).values("pk")
    profiles = CustomerProfile.objects.filter(customer_id__in=customers)
    sizes = {(r[0], r[1]): int(r[3]) for r in rows if r[0] == "rfm"}
    expected = {("rfm", code): profiles.filter(rfm_segment=code).count() for code in ("champions", "at_risk")}
    assert sizes == {k: v for k, v in expected.items() if v}
    assert sum(sizes.values()) == len(customers)


def test_abandonment_honours_each_filter(shop):
    client = login_through_form(shop.manager_a.username)
    for params in FILTERS:
        _check_abandonment(client, shop, params)


def _check_abandonment(client, shop, params: dict) -> None:
    rows = export(client, reverse("predictions:abandonment"), params)
    sessions = expected_sessions(shop, params)
    assert sorted(r[0] for r in rows) == sorted(sessions.values_list("external_id", flat=True))
    body = client.get(reverse("predictions:abandonment"), params).content.decode()
    viewed = re.search(r"<td>Viewed</td><td class=\"num\">(\d+)</td>", body)
    assert viewed and int(viewed.group(1)) == sessions.count()


# --- the address, validation and scope -----------------------------------------------------------------------------


def test_filters_stay_in_the_address_and_the_export_link(shop):
    client = login_through_form(shop.manager_a.username)
    params = {
        "region": "NORTH",
        "from": "2024-02-01",
        "category": "garden",
        "device": "mobile",
        "segment": "rfm:champions",
    }
    body = client.get(reverse("portal:insights"), params).content.decode()
    assert 'value="2024-02-01"' in body
    assert '<option value="garden" selected>' in body and '<option value="mobile" selected>' in body
    assert '<option value="rfm:champions" selected>' in body
    assert "region=NORTH&amp;from=2024-02-01&amp;category=garden&amp;device=mobile&amp;segment=rfm%3Achampions" in body


BAD_VALUES = [
    ({"from": "2024-13-01"}, "is not a date"),
    ({"to": "yesterday"}, "is not a date"),
    ({"from": "2024-05-01", "to": "2024-04-01"}, "The start date is after the end date."),
    ({"category": "no-such-category"}, "Category &#x27;no-such-category&#x27; is not one of the choices"),
    ({"device": "fax"}, "Device &#x27;fax&#x27; is not one of the choices"),
    ({"segment": "rfm:nobody"}, "is not one of the choices"),
    ({"segment": "'; DROP TABLE x"}, "is not one of the choices"),
]


def test_bad_filter_values_answer_a_clear_message(shop):
    client = login_through_form(shop.manager_a.username)
    for params, message in BAD_VALUES:
        for name in ("portal:insights", "predictions:clv", "predictions:abandonment", "segments:index"):
            response = client.get(reverse(name), params)
            assert response.status_code == 400, (name, params)
            assert message in response.content.decode(), (name, params)
            csv_response = client.get(reverse(name), {**params, "format": "csv"})
            assert csv_response.status_code == 400, (name, params)


def test_the_region_filter_never_widens_the_scope(shop):
    client = login_through_form(shop.manager_a.username)
    own = export(client, reverse("predictions:clv"), {})
    foreign = export(client, reverse("predictions:clv"), {"region": "SOUTH"})
    assert foreign == own and {r[1] for r in own} == {"NORTH"}
    carts = export(client, reverse("predictions:abandonment"), {"region": "SOUTH"})
    assert carts and all(r[1] == "NORTH" for r in carts)
    # a device or segment that exists only in another region is not offered, and so refused
    Customer.objects.filter(region=shop.region_b).update(device="smart-tv")
    Session.objects.filter(region=shop.region_b).update(device="smart-tv")
    from django.core.cache import cache

    cache.clear()
    assert client.get(reverse("portal:insights"), {"device": "smart-tv"}).status_code == 400
    executive = login_through_form(shop.executive.username)
    assert executive.get(reverse("portal:insights"), {"device": "smart-tv"}).status_code == 200


def test_campaigns_honour_the_period_and_the_segment_they_target(world):
    from interventions.models import Campaign

    rng = random.Random(7)
    for i in range(30):
        region = world.region_a if i % 3 else world.region_b
        code = rng.choice(["champions", "at_risk"])
        campaign = Campaign.objects.create(
            region=region, name=f"c{i}", intervention="reminder", audience_kind="rfm", audience_ref={"code": code}
        )
        Campaign.objects.filter(pk=campaign.pk).update(created_at=_day(rng))
    CustomerProfile.objects.create(
        customer=CustomerFactory(region=world.region_a),
        region=world.region_a,
        built_at=timezone.now(),
        reference_at=timezone.now(),
        rfm_segment="champions",
    )
    CustomerProfile.objects.create(
        customer=CustomerFactory(region=world.region_a),
        region=world.region_a,
        built_at=timezone.now(),
        reference_at=timezone.now(),
        rfm_segment="at_risk",
    )
    client = login_through_form(world.manager_a.username)
    for params in ({}, {"from": "2024-03-01", "to": "2024-06-30"}, {"segment": "rfm:champions"}):
        own = Campaign.objects.filter(region=world.region_a).filter(_period_q(params, "created_at"))
        if params.get("segment"):
            own = own.filter(audience_ref__code="champions")
        rows = export(client, reverse("interventions:campaigns"), params)
        assert sorted(r[2] for r in rows) == sorted(own.values_list("name", flat=True)), params
        if params:
            assert 0 < own.count() < Campaign.objects.filter(region=world.region_a).count()
    body = client.get(reverse("interventions:campaigns"), {"device": ""}).content.decode()
    assert "Not applied" not in body


def test_the_filter_choices_are_read_back_after_a_restart_of_the_cache_server(world):
    """The device, category and segment choices of a scope are kept in PostgreSQL too: after the cache is emptied
    the first page does not recompute them (a scan of every session on a large shop)."""
    from django.core.cache import cache

    from cartportal.models import Session
    from cartportal.pages import filters

    Session.objects.create(external_id="kept-device", region=world.region_a, device="tablet")
    assert filters._devices([world.region_a.pk]) == ["tablet"]
    Session.objects.filter(external_id="kept-device").delete()
    cache.clear()
    assert filters._devices([world.region_a.pk]) == ["tablet"]  # read back, not computed again
