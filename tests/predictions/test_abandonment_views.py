import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cartportal.access import SystemActor
from cartportal.models import Session
from predictions.abandonment import services
from tests.factories import CartEventFactory, ProductFactory, ReviewFactory
from tests.predictions.helpers import shopper_rows, shopper_session


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _load_sessions(world, data_dir, n=500):
    rows = shopper_rows(data_dir, n, seed=11)
    Session.objects.bulk_create(
        shopper_session(r, external_id=f"shop-{i}", region=world.region_a if i % 3 else world.region_b)
        for i, r in enumerate(rows.itertuples())
    )


@pytest.fixture
def trained_world(world, data_dir):
    _load_sessions(world, data_dir)
    services._latest.clear()
    services.abandonment_train(actor=SystemActor("task:train_abandonment"), cutoff=timezone.now(), iterations=120)
    yield world
    services._latest.clear()


def test_empty_states_without_sessions_or_model(world):
    services._latest.clear()
    body = _client(world.manager_a).get(reverse("predictions:abandonment")).content.decode()
    assert "No sessions in these regions yet" in body
    assert "Friction drivers appear once an abandonment model has been trained" in body
    assert "No review text in these regions yet" in body


def test_review_friction_table_by_category(world):
    ReviewFactory(
        product=ProductFactory(category="lamps"),
        customer__region=world.region_a,
        rating=1,
        text="Arrived late and the box was damaged",
    )
    ReviewFactory(product=ProductFactory(category="rugs"), customer__region=world.region_b, rating=1, text="Broken")
    response = _client(world.manager_a).get(reverse("predictions:abandonment"))
    rows = response.context["review_friction"]
    assert [r["group"] for r in rows] == ["lamps"]
    assert rows[0]["negative_share"] == 1.0 and rows[0]["shipping_share"] == 1.0
    assert "Review friction by category" in response.content.decode()


def test_unscored_sessions_are_listed_before_any_model(world):
    services._latest.clear()
    Session.objects.create(external_id="open-1", region=world.region_a, started_at=timezone.now())
    body = _client(world.manager_a).get(reverse("predictions:abandonment")).content.decode()
    assert "open-1" in body and "not scored yet" in body


def test_risk_table_funnel_and_drivers_for_the_managers_regions(trained_world):
    world = trained_world
    live = Session.objects.create(
        external_id="live-risky", region=world.region_a, started_at=timezone.now(), product_pages=2, exit_rate=0.2
    )
    product = ProductFactory(category="garden")
    CartEventFactory(session=live, product=product, kind="add")
    Session.objects.create(external_id="live-foreign", region=world.region_b, started_at=timezone.now())
    response = _client(world.manager_a).get(reverse("predictions:abandonment"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "live-risky" in body and "live-foreign" not in body
    assert "raises the risk of abandoning" in body
    chart = response.context["chart"]
    assert chart["funnel"][0]["sessions"] == Session.objects.filter(region=world.region_a).count()
    assert chart["funnel"][1]["sessions"] == 1  # one session added to the cart
    assert set(chart["byRegion"]) == {world.region_a.code.lower()}
    assert set(chart["byCategory"]) == {"garden"}
    assert set(next(iter(chart["byRegion"].values()))) == {"price", "shipping", "reviews", "engagement", "context"}
    assert 'id="abandonment-data"' in body and "js/abandonment.js" in body


def test_csv_export_lists_scored_sessions_sorted_by_risk(trained_world):
    world = trained_world
    response = _client(world.executive).get(reverse("predictions:abandonment") + "?format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["session", "region", "category", "started_at", "abandon_probability", "main_reason"]
    risks = [float(r[4]) for r in rows[1:]]
    assert len(risks) == 500 and risks == sorted(risks, reverse=True)
    narrowed = _client(world.executive).get(
        reverse("predictions:abandonment") + f"?region={world.region_b.code}&format=csv"
    )
    regions = {r[1] for r in list(csv.reader(io.StringIO(b"".join(narrowed.streaming_content).decode())))[1:]}
    assert regions == {world.region_b.code}


def test_session_page_explains_in_plain_words(trained_world):
    world = trained_world
    session = Session.objects.filter(region=world.region_a).first()
    body = _client(world.manager_a).get(reverse("predictions:abandonment_session", args=[session.pk])).content.decode()
    assert session.external_id in body
    assert body.count("the risk of abandoning by") == 5
    assert "Proposed interventions" in body
    foreign = Session.objects.filter(region=world.region_b).first()
    assert (
        _client(world.manager_a).get(reverse("predictions:abandonment_session", args=[foreign.pk])).status_code == 404
    )
