"""Audiences are checked when a campaign is drafted; an uploaded customer list is created by a service that refuses
customers of other regions whole."""

import pytest

from cartportal.services import DomainError
from interventions import services
from interventions.audiences import audience_list_create, parse_audience
from interventions.models import CustomerList
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _draft(world, kind, ref):
    return services.campaign_create_draft(
        actor=world.manager_a,
        region=world.region_a,
        name="x",
        intervention="reminder",
        audience_kind=kind,
        audience_ref=ref,
    )


def test_unknown_audiences_are_refused_at_draft_time(world):
    with pytest.raises(DomainError, match="no value group 'loyal' in region NORTH"):
        _draft(world, "value_group", {"code": "loyal"})
    with pytest.raises(DomainError, match="no audience strategy 5"):
        _draft(world, "strategy", {"audience_id": 5})
    with pytest.raises(DomainError, match="below 1"):
        _draft(world, "at_risk", {"threshold": 1.5})
    with pytest.raises(DomainError, match="unknown audience kind"):
        _draft(world, "everyone", {})
    foreign = audience_list_create(
        actor=world.manager_b,
        region=world.region_b,
        name="south",
        customer_ids=[CustomerFactory(region=world.region_b).pk],
    )
    with pytest.raises(DomainError, match=f"no customer list {foreign.pk} in region NORTH"):
        _draft(world, "list", {"list_id": foreign.pk})
    campaign = _draft(world, "at_risk", {"threshold": 0.7})
    assert campaign.audience == "At-risk open carts (abandonment risk above 70%)"


def test_customer_list_service_refuses_foreign_customers_whole(world):
    own = [CustomerFactory(region=world.region_a).pk for _ in range(3)]
    foreign = CustomerFactory(region=world.region_b).pk
    with pytest.raises(DomainError, match=str(foreign)):
        audience_list_create(actor=world.manager_a, region=world.region_a, name="mixed", customer_ids=[*own, foreign])
    assert not CustomerList.objects.exists()
    made = audience_list_create(actor=world.manager_a, region=world.region_a, name="win-back", customer_ids=own)
    assert made.members.count() == 3


def test_one_line_audiences():
    assert parse_audience("strategy:12:Loyal") == ("strategy", {"audience_id": "12", "segment": "Loyal"})
    assert parse_audience("at_risk") == ("at_risk", {"threshold": 0.5})
    with pytest.raises(DomainError, match="unknown audience"):
        parse_audience("vip:1")
