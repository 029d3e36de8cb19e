"""Customers through the API carry risk, value, segments and an explanation from the published results of the
prediction and segmentation apps; without published results they say so (null), never a made-up number."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _client(world):
    return Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")


def test_without_published_scores_risk_and_value_are_null(world):
    customer = CustomerFactory(region=world.region_a)
    body = _client(world).get(f"/api/v1/customers/{customer.pk}/").json()
    assert body["risk"] is None and body["value"] is None
    assert body["explanation"].startswith("Not scored yet")
    assert "name" not in body and "email" not in body


def test_risk_and_value_come_from_the_newest_published_run_that_scored_the_customer(world):
    models = pytest.importorskip("predictions.models")
    if not hasattr(models, "ScoringRun"):
        pytest.skip("the prediction app has no scoring runs yet")
    customer = CustomerFactory(region=world.region_a)
    version = models.ModelVersion.objects.create(kind="abandonment", algorithm="test", status="active")
    value_version = models.ModelVersion.objects.create(kind="value", algorithm="test", status="active")
    now = timezone.now()

    def run(kind, mv, minutes_ago, state="published"):
        return models.ScoringRun.objects.create(
            model_version=mv, kind=kind, state=state, published_at=now - timezone.timedelta(minutes=minutes_ago)
        )

    older = run("abandonment", version, 30)
    newer = run("abandonment", version, 5)
    pending = run("abandonment", version, 1, state="running")
    other_region_only = run("abandonment", version, 2)  # scored region B only: must not hide the customer's score
    drivers = [{"driver": "price", "contribution": 0.31, "sentence": "prices went up while in the cart"}]
    models.Score.objects.create(run=older, customer=customer, region=world.region_a, value=0.2)
    models.Score.objects.create(run=newer, customer=customer, region=world.region_a, value=0.73, contributions=drivers)
    models.Score.objects.create(run=pending, customer=customer, region=world.region_a, value=0.99)
    models.Score.objects.create(
        run=other_region_only, customer=CustomerFactory(region=world.region_b), region=world.region_b, value=0.5
    )
    value_run = run("value", value_version, 3)
    models.Score.objects.create(
        run=value_run,
        customer=customer,
        region=world.region_a,
        value=120.0,
        extra={"p_active": 0.8, "expected_purchases": 2.5, "expected_spend": 120.0},
    )

    body = _client(world).get(f"/api/v1/customers/{customer.pk}/").json()
    assert body["risk"]["probability"] == 0.73
    assert body["risk"]["model_version"] == version.pk
    assert body["risk"]["drivers"] == drivers
    assert body["value"]["p_active"] == 0.8 and body["value"]["expected_spend"] == 120.0
    assert "73%" in body["explanation"] and "prices went up" in body["explanation"]
    risk = _client(world).get(f"/api/v1/customers/{customer.pk}/risk/").json()
    assert risk["risk"]["probability"] == 0.73
    listed = _client(world).get("/api/v1/customers/").json()["results"]
    assert [c["risk"]["probability"] for c in listed if c["id"] == customer.pk] == [0.73]


def test_segments_come_from_the_customer_profile(world):
    segments = pytest.importorskip("segments.models")
    if not hasattr(segments, "CustomerProfile"):
        pytest.skip("the segmentation app has no customer profiles yet")
    customer = CustomerFactory(region=world.region_a)
    segments.CustomerProfile.objects.create(
        customer=customer,
        region=world.region_a,
        built_at=timezone.now(),
        reference_at=timezone.now(),
        rfm_segment="champions",
        value_group="high_value",
        dormant=False,
    )
    body = _client(world).get(f"/api/v1/customers/{customer.pk}/").json()
    assert {"kind": "rfm", "code": "champions"} in body["segments"]
    assert {"kind": "value_group", "code": "high_value"} in body["segments"]


def test_each_row_of_the_customer_list_equals_the_customers_own_page(world):
    """The list builds its rows without the model serializer (a hot partner read): every row, scored or not, with
    segments or not, erased or not, with and without dates, equals what the customer's own endpoint answers."""
    import datetime as dt

    from predictions.models import ModelVersion, Score, ScoringRun
    from segments.models import CustomerProfile

    now = timezone.now()
    scored = CustomerFactory(region=world.region_a, first_seen=now - dt.timedelta(days=3, microseconds=17))
    bare = CustomerFactory(region=world.region_a, first_seen=None, device="mobile", acquisition_source="ads")
    erased = CustomerFactory(region=world.region_a, consent_marketing=False)
    type(erased).objects.filter(pk=erased.pk).update(erased_at=now)
    version = ModelVersion.objects.create(kind="abandonment", algorithm="test", status="active")
    run = ScoringRun.objects.create(model_version=version, kind="abandonment", state="published", published_at=now)
    drivers = [{"driver": "shipping", "contribution": 0.2, "sentence": "shipping was quoted late"}]
    Score.objects.create(run=run, customer=scored, region=world.region_a, value=0.61, contributions=drivers)
    CustomerProfile.objects.create(
        customer=scored, region=world.region_a, built_at=now, reference_at=now, rfm_segment="at_risk", dormant=True
    )
    # a value forecast (its horizon and model come from the version), an older one it replaces, and a profile with
    # every kind of segment for a customer without a risk score
    valued = CustomerFactory(region=world.region_a)
    value_version = ModelVersion.objects.create(
        kind="value", algorithm="bgnbd+gamma", status="active", holdout={"forecast_days": 365, "mae": 3.2}
    )
    older = ScoringRun.objects.create(
        model_version=value_version, kind="value", state="published", published_at=now - dt.timedelta(days=7)
    )
    newer = ScoringRun.objects.create(model_version=value_version, kind="value", state="published", published_at=now)
    Score.objects.create(run=older, customer=valued, region=world.region_a, value=10.0, extra={"expected_spend": 10.0})
    extra = {"expected_spend": 123.45, "p_active": 0.8, "expected_purchases": 2.5}
    Score.objects.create(run=newer, customer=valued, region=world.region_a, value=123.45, extra=extra)
    Score.objects.create(run=newer, customer=scored, region=world.region_a, value=7.5, extra={"expected_spend": 7.5})
    CustomerProfile.objects.create(
        customer=valued,
        region=world.region_a,
        built_at=now,
        reference_at=now,
        rfm_segment="champions",
        value_group="big_fish",
        persona="Bargain hunter",
    )

    client = _client(world)
    listed = client.get("/api/v1/customers/", {"page_size": 500}).json()["results"]
    assert {scored.pk, bare.pk, erased.pk} <= {row["id"] for row in listed}
    for row in listed:
        own = client.get(f"/api/v1/customers/{row['id']}/").json()
        assert list(row) == list(own) and row == own
    (row,) = [r for r in listed if r["id"] == scored.pk]
    assert row["risk"]["probability"] == 0.61 and {"kind": "dormant", "code": "dormant"} in row["segments"]
    (row,) = [r for r in listed if r["id"] == valued.pk]
    assert row["risk"] is None and row["value"]["expected_spend"] == 123.45
    assert (row["value"]["horizon_days"], row["value"]["model"]) == (365, "bgnbd+gamma")
    assert [(item["kind"], item["code"]) for item in row["segments"]] == [
        ("rfm", "champions"),
        ("value_group", "big_fish"),
        ("persona", "Bargain hunter"),
    ]
    assert [r["erased_at"] is not None for r in listed if r["id"] == erased.pk] == [True]
