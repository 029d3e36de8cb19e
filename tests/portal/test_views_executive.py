"""The executive rollup: measured figures per region, 'not measured yet' for what other apps have not
published, the same numbers in the page, the chart data and the CSV; executives only."""

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cartportal.portal.selectors.executive import CSV_COLUMNS, regional_rollup
from tests.factories import CartEventFactory, OrderFactory, SessionFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def shop(world):
    a, b = world.region_a, world.region_b
    when = dt.datetime(2024, 5, 10, tzinfo=UTC)
    sessions = [SessionFactory(region=a, started_at=when, converted=c) for c in (True, True, False)]
    SessionFactory(region=a, started_at=when - dt.timedelta(days=31), converted=False)
    SessionFactory(region=a, started_at=when, converted=True, is_bot=True)
    SessionFactory(region=b, started_at=when, converted=False)
    for i, session in enumerate(sessions):
        CartEventFactory(session=session, occurred_at=when)
        if i == 0:
            CartEventFactory(session=session, kind="purchase", occurred_at=when)
    OrderFactory(customer__region=a, region=a, placed_at=when, total=Decimal("40.00"))
    OrderFactory(customer__region=a, region=a, placed_at=when, total=Decimal("99.00"), status="cancelled")
    return world


def test_rollup_measures_each_region(shop):
    rows = {r["code"]: r for r in regional_rollup(shop.executive)["regions"]}
    north = rows["NORTH"]
    assert north["conversion"] == 0.6667
    assert [p["month"] for p in north["conversion_trend"]] == ["2024-04", "2024-05"]
    assert north["conversion_trend"][0]["value"] == 0.0
    assert north["abandonment"] == 0.6667
    assert north["revenue_trend"] == [{"month": "2024-05", "value": 40.0}]
    assert rows["SOUTH"]["conversion"] == 0.0 and rows["SOUTH"]["abandonment"] is None
    assert north["revenue_at_risk"] is None and north["campaign_lift"] is None


def test_page_chart_data_and_csv_agree(client, shop):
    client.force_login(shop.executive)
    response = client.get(reverse("portal:executive"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "67%" in body and "not measured yet" in body
    chart = json.loads(re.search(r'id="executive-data"[^>]*>(.*?)</script>', body, re.S).group(1))
    assert {r["code"]: r["conversion"] for r in chart["regions"]} == {"NORTH": 0.6667, "SOUTH": 0.0}
    export = client.get(reverse("portal:executive"), {"format": "csv", "region": "NORTH"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == CSV_COLUMNS
    assert rows[1:] == [
        ["NORTH", "North", "GBP", "0.6667", "0.6667", "not measured yet", "not measured yet", "not measured yet"]
    ]


def test_revenue_at_risk_and_campaign_results_come_from_published_runs_and_outcomes(shop):
    from django.utils import timezone

    from interventions.models import Assignment, Campaign
    from predictions.models import ModelVersion, Score, ScoringRun
    from tests.factories import CustomerFactory

    a, b = shop.region_a, shop.region_b
    version = ModelVersion.objects.create(kind="abandonment", algorithm="test", artifact=b"", checksum="0")
    run = ScoringRun.objects.create(
        model_version=version, kind="abandonment", state="published", published_at=timezone.now()
    )
    when = dt.datetime(2024, 5, 10, tzinfo=UTC)

    def scored(region, probability, events):
        customer = CustomerFactory(region=region)
        session = SessionFactory(region=region, customer=customer, started_at=when)
        for kind, quantity, price in events:
            CartEventFactory(session=session, kind=kind, quantity=quantity, unit_price=Decimal(price), occurred_at=when)
        Score.objects.create(run=run, customer=customer, region=region, session=session, value=probability)

    scored(a, 0.5, [("add", 2, "10.00"), ("remove", 1, "10.00")])  # 10 left in the cart: 5 at risk
    scored(a, 0.25, [("add", 1, "40.00")])  # 10 at risk
    scored(a, 0.9, [("add", 1, "50.00"), ("purchase", 1, "50.00")])  # bought: nothing at risk
    scored(b, 0.5, [("add", 1, "100.00")])  # another region's cart
    campaign = Campaign.objects.create(region=a, name="reminder", intervention="reminder", state="completed")
    for i in range(20):
        holdout = i >= 10
        converted = (i % 10) < (2 if holdout else 4)
        Assignment.objects.create(
            campaign=campaign,
            customer=CustomerFactory(region=a),
            arm="holdout" if holdout else "reminder",
            holdout=holdout,
            assigned_at=when,
            outcome_at=when,
            converted=converted,
            revenue=Decimal("30.00") if converted else Decimal("0"),
        )

    rows = {r["code"]: r for r in regional_rollup(shop.executive)["regions"]}
    assert rows["NORTH"]["revenue_at_risk"] == 15.0 and rows["SOUTH"]["revenue_at_risk"] == 50.0
    # treated 4/10 converted, holdout 2/10: lift 0.2; revenue 12.00 vs 6.00 per customer, 10 treated: 60 recovered
    assert rows["NORTH"]["campaign_lift"] == 0.2 and rows["NORTH"]["recovered_revenue"] == 60.0
    assert rows["SOUTH"]["campaign_lift"] is None and rows["SOUTH"]["recovered_revenue"] is None
    manager_rows = {r["code"]: r for r in regional_rollup(shop.manager_a)["regions"]}
    assert set(manager_rows) == {"NORTH"} and manager_rows["NORTH"]["revenue_at_risk"] == 15.0


@pytest.mark.parametrize("persona", ["manager_a", "analyst_a", "compliance"])
def test_only_executives_read_the_rollup(client, shop, persona):
    client.force_login(getattr(shop, persona))
    response = client.get(reverse("portal:executive"))
    assert response.status_code == 403
    assert "North" not in response.content.decode()


def test_insights_csv_matches_the_page_selector(client, shop):
    client.force_login(shop.manager_a)
    response = client.get(reverse("portal:insights"), {"format": "csv", "table": "depth"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "segment",
        "sessions",
        "avg_pages",
        "avg_product_pages",
        "avg_product_minutes",
        "conversion_rate",
    ]
    assert sum(int(r[1]) for r in rows[1:]) == 4
    assert client.get(reverse("portal:insights"), {"region": "SOUTH"}).status_code == 200


def test_rollups_follow_new_data_at_once(shop):
    first = {r["code"]: r for r in regional_rollup(shop.executive)["regions"]}["SOUTH"]["conversion"]
    assert first == 0.0
    SessionFactory(region=shop.region_b, started_at=dt.datetime(2024, 5, 11, tzinfo=UTC), converted=True)
    again = {r["code"]: r for r in regional_rollup(shop.executive)["regions"]}["SOUTH"]["conversion"]
    assert again == 0.5


def test_a_slow_rollup_is_served_as_it_was_and_refreshed_by_a_task(shop, settings, django_capture_on_commit_callbacks):
    from cartportal.pages import rollups as cache
    from cartportal.pages.tasks import refresh_rollup

    def south(user=shop.executive):
        return {r["code"]: r for r in regional_rollup(user)["regions"]}["SOUTH"]["conversion"]

    assert south() == 0.0
    settings.PORTAL_ROLLUP_SYNC_SECONDS = 0  # every rollup counts as slow: stale values are served
    SessionFactory(region=shop.region_b, started_at=dt.datetime(2024, 5, 11, tzinfo=UTC), converted=True)
    with django_capture_on_commit_callbacks() as queued:
        assert south() == 0.0  # the figures as computed before the new row, without waiting
        assert south() == 0.0
    assert len(queued) == 1  # one refresh queued for that rollup and scope, not one per request
    name = "cartportal.portal.selectors.executive._measured"
    refresh_rollup(name, None)  # what the worker runs
    assert south() == 0.5
    assert cache.computed_at(name, None) is not None


def test_warming_computes_each_region_and_all_regions_so_pages_read_them(shop):
    from cartportal.pages import rollups as cache

    computed = cache.warm_all([shop.region_a.pk, shop.region_b.pk])
    assert computed == len(cache.ROLLUPS) * 3
    name = "cartportal.portal.selectors.executive._measured"
    at = cache.computed_at(name, [shop.region_a.pk])
    rows = regional_rollup(shop.manager_a)["regions"]
    assert [r["code"] for r in rows] == ["NORTH"] and cache.computed_at(name, [shop.region_a.pk]) == at


def test_imports_finishing_together_queue_one_warm_up(monkeypatch):
    from cartportal.pages import tasks

    sent = []
    monkeypatch.setattr(tasks.warm_rollups, "delay", lambda: sent.append(1))
    tasks.queue_warm_rollups()
    tasks.queue_warm_rollups()
    assert sent == [1]


def test_a_rollup_survives_a_restart_of_the_cache_server_without_being_computed_again(shop, monkeypatch):
    from django.core.cache import cache as shared_cache

    from cartportal.pages import rollups

    name = "cartportal.portal.selectors.executive._measured"
    first = regional_rollup(shop.executive)
    computed = []
    original = rollups.ROLLUPS[name]
    monkeypatch.setitem(rollups.ROLLUPS, name, lambda *args: computed.append(args) or original(*args))

    shared_cache.clear()  # the cache server restarted: its memory is empty
    assert regional_rollup(shop.executive) == first
    assert computed == []  # read from PostgreSQL, not computed in the request
    assert regional_rollup(shop.executive) == first and computed == []  # and back in the cache

    SessionFactory(region=shop.region_b, started_at=dt.datetime(2024, 5, 11, tzinfo=UTC), converted=True)
    regional_rollup(shop.executive)
    assert len(computed) == 1  # new data is still seen as before


def test_a_kept_result_expires_and_expired_ones_are_removed():
    import datetime

    from django.core.cache import cache as shared_cache
    from django.utils import timezone

    from cartportal import kept
    from cartportal.models import KeptResult

    kept.put("test:one", {"a": [1, 2]}, 60)
    kept.put("test:two", "gone", 60)
    KeptResult.objects.filter(key="test:two").update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    shared_cache.clear()
    assert kept.get("test:one") == {"a": [1, 2]}
    assert kept.get("test:two", "missing") == "missing"
    kept.put("test:three", 3, 60)
    assert set(KeptResult.objects.values_list("key", flat=True)) == {"test:one", "test:three"}
