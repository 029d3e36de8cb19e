import datetime as dt

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from cartportal import access
from cartportal.access import NotFoundOrForbidden
from cartportal.models import AuditEvent
from cartportal.services import DomainError
from interventions import services
from interventions.audiences import audience_list_create
from interventions.models import Assignment, Campaign
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _analyst_of(region):
    analyst = UserFactory(roles=[access.ANALYST])
    access.grant_region(analyst, region, access.ANALYST)
    return analyst


def _pending(world, region=None, actor=None):
    """A pending campaign drafted by an analyst of its region (four eyes: its managers may approve it)."""
    region = region or world.region_a
    actor = actor or _analyst_of(region)
    audience = audience_list_create(
        actor=actor, region=region, name="Saved carts", customer_ids=[CustomerFactory(region=region).pk]
    )
    c = services.campaign_create_draft(
        actor=actor,
        region=region,
        name="Spring reminder",
        intervention="reminder",
        holdout_share=0.2,
        audience_kind="list",
        audience_ref={"list_id": audience.pk},
    )
    return services.campaign_transition(actor=actor, campaign_id=c.pk, action="submit", reason="ready")


def _running(world, region=None):
    c = _pending(world, region)
    manager = world.manager_a if c.region == world.region_a else world.manager_b
    services.campaign_transition(actor=manager, campaign_id=c.pk, action="approve", reason="ok")
    return services.campaign_transition(actor=manager, campaign_id=c.pk, action="start", reason="go")


def _audit_rows(action):
    return AuditEvent.objects.filter(action=action).count()


def test_state_machine_and_one_audit_row_per_decision(world):
    c = _pending(world)
    before = _audit_rows("campaign.approve")
    c = services.campaign_transition(actor=world.manager_a, campaign_id=c.pk, action="approve", reason="fits budget")
    assert c.state == "approved" and c.override is False and c.decision_reason == "fits budget"
    assert _audit_rows("campaign.approve") == before + 1
    row = AuditEvent.objects.filter(action="campaign.approve").latest("id")
    assert row.reason == "fits budget" and row.region_code == world.region_a.code
    with pytest.raises(DomainError, match="cannot approve a campaign that is approved"):
        services.campaign_transition(actor=world.manager_a, campaign_id=c.pk, action="approve", reason="again")
    assert _audit_rows("campaign.approve") == before + 1

    other = _pending(world)
    services.campaign_transition(actor=world.manager_a, campaign_id=other.pk, action="reject", reason="too costly")
    assert _audit_rows("campaign.reject") == 1
    assert Campaign.objects.get(pk=other.pk).state == "rejected"


def test_reason_required_to_decide(world):
    c = _pending(world)
    with pytest.raises(DomainError, match="reason"):
        services.campaign_transition(actor=world.manager_a, campaign_id=c.pk, action="approve", reason=" ")


def test_foreign_manager_cannot_approve_service_or_page(world):
    c = _pending(world, world.region_b)
    with pytest.raises(NotFoundOrForbidden):
        services.campaign_transition(actor=world.manager_a, campaign_id=c.pk, action="approve", reason="mine now")
    client = Client()
    client.force_login(world.manager_a)
    response = client.post(reverse("interventions:approve", kwargs={"pk": c.pk}), {"reason": "x"})
    missing = client.post(reverse("interventions:approve", kwargs={"pk": 987654}), {"reason": "x"})
    assert response.status_code == missing.status_code == 404
    assert Campaign.objects.get(pk=c.pk).state == "pending"
    assert _audit_rows("campaign.approve") == 0
    # the analyst of region A sees the campaign page but cannot approve either
    own = _pending(world)
    with pytest.raises(NotFoundOrForbidden):
        services.campaign_transition(actor=world.analyst_a, campaign_id=own.pk, action="approve", reason="x")


def test_executive_approval_is_recorded_as_override(world):
    c = _pending(world, world.region_b)
    client = Client()
    client.force_login(world.executive)
    response = client.post(reverse("interventions:approve", kwargs={"pk": c.pk}), {"reason": "quarter push"})
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.state == "approved" and c.override is True
    assert AuditEvent.objects.filter(action="campaign.approve").get().after["override"] is True


def test_page_approval_by_own_manager_writes_one_audit_row(world):
    c = _pending(world)
    client = Client()
    client.force_login(world.manager_a)
    response = client.post(reverse("interventions:reject", kwargs={"pk": c.pk}), {"reason": "wrong audience"})
    assert response.status_code == 302
    assert _audit_rows("campaign.reject") == 1
    empty = client.post(reverse("interventions:approve", kwargs={"pk": c.pk}), {"reason": ""})
    assert empty.status_code == 200 and "required" in empty.content.decode()


def test_withdrawn_consent_gets_no_assignment(world):
    c = _running(world)
    consenting = [CustomerFactory(region=world.region_a, consent_marketing=True) for _ in range(30)]
    withdrawn = [CustomerFactory(region=world.region_a, consent_marketing=False) for _ in range(10)]
    foreign = CustomerFactory(region=world.region_b)
    ids = [x.pk for x in consenting + withdrawn] + [foreign.pk]
    summary = services.campaign_assign(actor=world.manager_a, campaign_id=c.pk, customer_ids=ids)
    assert summary["assigned"] == 30 and summary["skipped_no_consent_or_other_region"] == 11
    assert Assignment.objects.filter(customer__in=withdrawn).count() == 0
    assert not Assignment.objects.filter(customer=foreign).exists()


@override_settings(CARTPORTAL_WEEKLY_PROMOTION_CAP=3)
def test_weekly_cap_is_never_exceeded(world):
    customers = [CustomerFactory(region=world.region_a) for _ in range(40)]
    monday = timezone.make_aware(dt.datetime(2026, 11, 16, 9))
    for day in range(6):
        c = _running(world)
        c.holdout_share = 0.0
        c.save()
        services.campaign_assign(
            actor=world.manager_a,
            campaign_id=c.pk,
            customer_ids=[x.pk for x in customers],
            at=monday + dt.timedelta(days=day),
        )
    week = Assignment.objects.filter(holdout=False, assigned_at__lt=monday + dt.timedelta(days=7))
    per_customer = {x.pk: week.filter(customer=x).count() for x in customers}
    assert max(per_customer.values()) == 3 and min(per_customer.values()) == 3
    next_week = _running(world)
    next_week.holdout_share = 0.0
    next_week.save()
    s = services.campaign_assign(
        actor=world.manager_a,
        campaign_id=next_week.pk,
        customer_ids=[x.pk for x in customers],
        at=monday + dt.timedelta(days=7),
    )
    assert s["assigned"] == 40


def test_holdout_is_deterministic_and_near_share(world):
    customers = [CustomerFactory(region=world.region_a) for _ in range(400)]
    c = _running(world)
    services.campaign_assign(actor=world.manager_a, campaign_id=c.pk, customer_ids=[x.pk for x in customers])
    first = dict(Assignment.objects.filter(campaign=c).values_list("customer_id", "holdout"))
    share = sum(first.values()) / len(first)
    assert 0.14 < share < 0.26  # 20 % configured, 400 customers
    Assignment.objects.filter(campaign=c).delete()
    services.campaign_assign(actor=world.manager_a, campaign_id=c.pk, customer_ids=[x.pk for x in customers])
    assert dict(Assignment.objects.filter(campaign=c).values_list("customer_id", "holdout")) == first


def test_kill_switch_blocks_start_and_assignment_and_is_audited(world):
    running = _running(world)
    with pytest.raises(DomainError, match="executive"):
        services.kill_switch_set(actor=world.manager_a, engaged=True, reason="incident")
    services.kill_switch_set(actor=world.executive, engaged=True, reason="incident")
    assert Campaign.objects.get(pk=running.pk).state == "stopped"
    assert _audit_rows("interventions.kill_switch") == 1
    c = _pending(world)
    services.campaign_transition(actor=world.manager_a, campaign_id=c.pk, action="approve", reason="ok")
    with pytest.raises(DomainError, match="kill switch"):
        services.campaign_transition(actor=world.manager_a, campaign_id=c.pk, action="start", reason="go")


def test_four_eyes_the_author_may_not_approve_their_own_campaign(world, settings):
    own = _pending(world, actor=world.manager_a)
    client = Client()
    client.force_login(world.manager_a)

    page = client.post(reverse("interventions:approve", kwargs={"pk": own.pk}), {"reason": "mine"})
    api = client.post(f"/api/v1/campaigns/{own.pk}/approve/", {"reason": "mine"}, content_type="application/json")
    assert page.status_code == 200 and "four eyes" in page.content.decode()  # the decision form, with the reason
    assert api.status_code == 403 and "four eyes" in api.json()["error"]["message"]
    assert Campaign.objects.get(pk=own.pk).state == "pending" and _audit_rows("campaign.approve") == 0
    approve_link = reverse("interventions:approve", kwargs={"pk": own.pk})
    assert approve_link not in client.get(reverse("interventions:campaign", kwargs={"pk": own.pk})).content.decode()

    settings.CARTPORTAL_FOUR_EYES = False
    assert approve_link in client.get(reverse("interventions:campaign", kwargs={"pk": own.pk})).content.decode()
    allowed = client.post(approve_link, {"reason": "setting off"})
    assert allowed.status_code == 302 and Campaign.objects.get(pk=own.pk).state == "approved"
