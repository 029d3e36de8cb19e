"""Approving from the campaign page: the reason typed there goes with the decision, in one step."""

import re

import pytest
from django.urls import reverse

from cartportal import access
from interventions import services
from interventions.audiences import audience_list_create
from interventions.models import Campaign
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _pending(world):
    # Drafted by a second manager of the region: four eyes, the author does not approve their own campaign.
    region = world.region_a
    manager = UserFactory(username="deputy_north", roles=[access.REGIONAL_MANAGER])
    access.grant_region(manager, region, access.REGIONAL_MANAGER)
    audience = audience_list_create(
        actor=manager, region=region, name="Saved carts", customer_ids=[CustomerFactory(region=region).pk]
    )
    c = services.campaign_create_draft(
        actor=manager,
        region=region,
        name="Spring reminder",
        intervention="reminder",
        holdout_share=0.2,
        audience_kind="list",
        audience_ref={"list_id": audience.pk},
    )
    return services.campaign_transition(actor=manager, campaign_id=c.pk, action="submit", reason="ready")


def test_manager_approves_with_the_reason_typed_once(client, world):
    campaign = _pending(world)
    client.force_login(world.manager_a)
    page = client.get(reverse("interventions:campaign", args=[campaign.pk])).content.decode()
    form = re.search(r'<form method="post" class="actions">.*?</form>', page, re.S).group(0)
    approve_url = reverse("interventions:approve", args=[campaign.pk])
    # Approve is a button of the form holding the reason, not a link to a second form.
    assert 'name="reason"' in form and f'formaction="{approve_url}"' in form

    response = client.post(approve_url, {"reason": "Fits the spring budget"}, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("interventions:campaign", args=[campaign.pk])
    assert body.count("Campaign approved.") == 1
    assert Campaign.objects.get(pk=campaign.pk).state == "approved"
    assert re.search(r"<dt>Decision</dt><dd>manager_north\s+Fits the spring budget</dd>", body)

    client.force_login(world.compliance)
    trail = client.get(reverse("portal:audit"), {"actor": "manager_north", "action": "campaign.approve"})
    row = re.search(r"<tbody>.*?</tbody>", trail.content.decode(), re.S).group(0)
    assert "manager_north" in row and "Fits the spring budget" in row and "campaign.approve" in row
