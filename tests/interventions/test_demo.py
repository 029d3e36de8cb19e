"""The demo gives every managed region a campaign waiting for approval and, where customers have something to talk
about, one campaign run through the real path: audience, approval, assignment, orders of the week after imported
and attributed, so the executive page has a measured lift and recovered revenue. Re-running adds nothing."""

from io import StringIO

import pytest

from cartportal.models import Customer
from interventions.demo import build_demo
from interventions.models import Assignment, Campaign
from interventions.selectors import approvals_for, campaign_results_by_region
from tests.factories import ProductFactory, ReviewFactory
from tests.interventions.test_campaign_loop_e2e import _with_open_cart

pytestmark = pytest.mark.django_db


def test_demo_runs_one_campaign_through_the_real_path_once(world):
    products = [ProductFactory(name=f"Lamp {i}") for i in range(2)]
    for product in products:
        ReviewFactory.create_batch(3, product=product, customer__region=world.region_a, rating=5)
    customers = _with_open_cart(world.region_a, 400, products)
    Customer.objects.filter(pk__in=[c.pk for c in customers[:100]]).update(consent_marketing=False)
    out = StringIO()
    build_demo(out)
    assert "3 demo campaigns in NORTH, SOUTH" in out.getvalue()
    assert sorted(Campaign.objects.filter(region=world.region_a).values_list("state", flat=True)) == [
        "pending",
        "running",
    ]
    assert list(Campaign.objects.filter(region=world.region_b).values_list("state", flat=True)) == ["pending"]
    for region, manager in ((world.region_a, world.manager_a), (world.region_b, world.manager_b)):
        assert [c.region_id for c in approvals_for(manager)] == [region.pk]
    running = Campaign.objects.get(region=world.region_a, state="running")
    assigned = Assignment.objects.filter(campaign=running)
    consenting = Customer.objects.filter(
        region=world.region_a, consent_marketing=True, pk__in=[c.pk for c in customers]
    )
    assert assigned.count() == consenting.count() > 300  # 300 consented already, ~70 % of the other 100 opt in
    assert not assigned.filter(outcome_at__isnull=True).exists() and assigned.filter(converted=True).exists()
    assert set(assigned.exclude(holdout=True).values_list("arm", flat=True)) <= {"reminder", "review_reassurance"}
    assert running.assign_job.state == "succeeded"
    measured = campaign_results_by_region(world.executive)[world.region_a.pk]
    assert measured["campaigns_treated"] == assigned.filter(holdout=False).count()
    assert measured["lift_ci"][0] < measured["lift"] < measured["lift_ci"][1]

    build_demo(StringIO())
    assert Campaign.objects.count() == 3 and Assignment.objects.count() == assigned.count()
