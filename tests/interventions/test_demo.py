"""The demo gives every managed region a campaign waiting for approval and a running one, once."""

from io import StringIO

import pytest

from interventions.demo import build_demo
from interventions.models import Assignment, Campaign
from interventions.selectors import approvals_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_demo_campaigns_fill_the_approvals_inbox_once(world):
    CustomerFactory.create_batch(30, region=world.region_a)
    out = StringIO()
    build_demo(out)
    assert "4 demo campaigns in NORTH, SOUTH" in out.getvalue()
    assert "no promotions" in out.getvalue()  # no purchases in these regions: a clear note, no failure
    for region, manager in ((world.region_a, world.manager_a), (world.region_b, world.manager_b)):
        states = sorted(Campaign.objects.filter(region=region).values_list("state", flat=True))
        assert states == ["pending", "running"]
        assert [c.region_id for c in approvals_for(manager)] == [region.pk]
    running = Campaign.objects.get(region=world.region_a, state="running")
    assert Assignment.objects.filter(campaign=running).count() == 30

    build_demo(StringIO())
    assert Campaign.objects.count() == 4 and Assignment.objects.count() == 30
