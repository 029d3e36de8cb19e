"""The measured-lift component of audience scores comes from the region's campaigns measured against a holdout
(the interventions app answers through `cartportal.extensions.segment_lift`), computed from constructed outcomes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cartportal import extensions
from cartportal.access import SystemActor
from interventions.models import Assignment, Campaign
from segments.services import audience_create
from tests.factories import CustomerFactory, RegionFactory
from tests.segments.factories import profile

pytestmark = pytest.mark.django_db

RULES = [{"name": "Big spenders", "feature": "monetary", "op": ">=", "value": 500}]
ONLY_LIFT = {"conversion_potential": 0, "measured_lift": 1, "size": 0, "profitability": 0, "strategic_fit": 0}


def _campaign(region, *, audience: str, treated: tuple[int, int], holdout: tuple[int, int]) -> Campaign:
    """A completed campaign with outcomes: (customers, converted) in the treated arm and in the holdout."""
    campaign = Campaign.objects.create(
        region=region, name=f"c-{audience or 'all'}", intervention="reminder", audience=audience, state="completed"
    )
    now = timezone.now()
    rows = []
    for is_holdout, (size, converted) in ((False, treated), (True, holdout)):
        for i in range(size):
            rows.append(
                Assignment(
                    campaign=campaign,
                    customer=CustomerFactory(region=region),
                    arm="holdout" if is_holdout else "reminder",
                    holdout=is_holdout,
                    assigned_at=now,
                    visited=i < converted,
                    converted=i < converted,
                    outcome_at=now,
                )
            )
    Assignment.objects.bulk_create(rows)
    return campaign


def _audience(region):
    for monetary in (900, 800, 100, 50):
        profile(region, monetary=monetary, value_group="regular", dormant=False)
    actor = SystemActor("task:test", [region.pk])
    return audience_create(
        actor=actor, region=region, name="Lift", universe="purchasers", rules=RULES, weights=ONLY_LIFT
    )


def test_segment_lift_comes_from_its_campaigns_else_the_region_pooled_lift():
    region = RegionFactory(code="LIFT")
    _campaign(region, audience="Big spenders", treated=(100, 30), holdout=(100, 10))  # lift 0.30 - 0.10
    _campaign(region, audience="", treated=(50, 25), holdout=(50, 20))  # pooled: 55/150 - 30/150
    audience = _audience(region)
    lifts = {s["segment"]: s["measured_lift"] for s in audience.result["segments"]}
    assert lifts["Big spenders"] == pytest.approx(0.20)
    assert lifts["Everyone else"] == pytest.approx(55 / 150 - 30 / 150)
    overall = {s["segment"]: s["overall"] for s in audience.result["segments"]}
    assert overall == {"Big spenders": 1.0, "Everyone else": 0.0}  # the lift alone, scaled across the segments


def test_a_region_without_measured_campaigns_has_no_lift_and_other_regions_do_not_leak_in():
    measured, other = RegionFactory(code="MEASURED"), RegionFactory(code="UNMEASURED")
    _campaign(measured, audience="Big spenders", treated=(40, 20), holdout=(40, 4))
    _campaign(other, audience="Big spenders", treated=(10, 5), holdout=(0, 0))  # no holdout: nothing measured
    audience = _audience(other)
    assert {s["measured_lift"] for s in audience.result["segments"]} == {None}
    assert {s["overall"] for s in audience.result["segments"]} == {None}  # the only weighted component is missing


def test_the_interventions_app_fills_the_extension_point():
    assert extensions.segment_lift.available and extensions.proposed_action.available
