import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from cartportal.models import Session
from tests.factories import CartEventFactory, CustomerFactory, OrderFactory


def _carts(region, finished: int, bought: int):
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    for n in range(finished):
        session = Session.objects.create(
            external_id=f"{region.code}-{n}", region=region, started_at=start + dt.timedelta(hours=n)
        )
        CartEventFactory(session=session, occurred_at=session.started_at)
        if n < bought:
            CartEventFactory(session=session, kind="purchase", occurred_at=session.started_at)


@pytest.mark.django_db
def test_readiness_says_per_region_what_is_missing_and_the_fallback(world):
    _carts(world.region_a, finished=41, bought=12)
    _carts(world.region_b, finished=260, bought=40)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for n in range(60):
        customer = CustomerFactory(region=world.region_b)
        for k in range(2):
            OrderFactory(customer=customer, region=world.region_b, placed_at=start + dt.timedelta(days=30 * k + n))
    client = Client()
    client.force_login(world.executive)
    body = client.get(reverse("predictions:readiness")).content.decode()
    needs = "needs 200 finished carts with at least 30 purchases and 30 abandonments"
    assert f"{needs}; has 41 carts, 12 bought" in body
    assert "needs 50 customers with orders over at least 28 days; has 0 customers over 0 days" in body
    assert "RFM segments and the BG/NBD purchase probability" in body
    export = client.get(reverse("predictions:readiness") + "?format=csv")
    rows = b"".join(export.streaming_content).decode().splitlines()
    assert rows[0] == "region,kind,ready,active,needs,has,fallback"
    by_key = {tuple(r.split(",")[:2]): r for r in rows[1:]}
    assert by_key[("SOUTH", "value")].split(",")[2] == "True"
    assert "60 customers over 89 days" in by_key[("SOUTH", "value")]
    assert by_key[("SOUTH", "abandonment")].split(",")[2] == "True"
    assert by_key[("NORTH", "abandonment")].split(",")[2] == "False"
    manager = Client()
    manager.force_login(world.manager_a)
    own = manager.get(reverse("predictions:readiness")).content.decode()
    assert "has 41 carts" in own and "has 260 carts" not in own


@pytest.mark.django_db
def test_readiness_is_reachable_from_the_navigation(world):
    client = Client()
    client.force_login(world.manager_a)
    assert f'href="{reverse("predictions:readiness")}"' in client.get(reverse("predictions:models")).content.decode()


@pytest.mark.django_db
def test_readiness_counts_are_a_rollup_and_campaign_outcomes_are_read_live(
    world, settings, django_capture_on_commit_callbacks
):
    """Counting every cart and order of a region took 38 s per request on a 1M-customer shop: the counted checks are
    kept as a rollup (with rollups counted as slow, a new cart is not counted in the request; one refresh is queued
    and brings it in). Campaign outcomes are attributed to existing rows in place, which the rollups' watermark does
    not see, so the uplift check is asked on every request and shows an outcome at once."""
    from django.utils import timezone

    from cartportal.pages.tasks import refresh_rollup
    from interventions.models import Assignment, Campaign
    from predictions import selectors

    customers = [CustomerFactory(region=world.region_a) for _ in range(3)]
    campaign = Campaign.objects.create(region=world.region_a, name="c", intervention="reminder", state="completed")
    now = timezone.now()
    Assignment.objects.bulk_create(
        Assignment(campaign=campaign, customer=c, arm="reminder", holdout=i == 0, assigned_at=now)
        for i, c in enumerate(customers)
    )
    _carts(world.region_a, finished=5, bought=1)
    manager = Client()
    manager.force_login(world.manager_a)

    def readiness() -> str:
        return manager.get(reverse("predictions:readiness")).content.decode()

    body = readiness()
    assert "has 5 carts, 1 bought" in body and "has 0 outcomes, 0 in the holdout" in body
    settings.PORTAL_ROLLUP_SYNC_SECONDS = 0  # every rollup counts as slow: stale values are served
    session = Session.objects.create(external_id="late", region=world.region_a, started_at=now)
    CartEventFactory(session=session, occurred_at=now)
    Assignment.objects.filter(campaign=campaign).update(outcome_at=now)  # outcomes attributed in place
    with django_capture_on_commit_callbacks() as queued:
        body = readiness()
    assert "has 5 carts, 1 bought" in body  # as counted before the new cart, without counting in the request
    assert "has 3 outcomes, 1 in the holdout" in body  # live
    assert len(queued) >= 1
    refresh_rollup(selectors._counted_readiness.rollup_name, [world.region_a.pk])  # what the worker runs
    assert "has 6 carts, 1 bought" in readiness()
