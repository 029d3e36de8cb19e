"""Campaign endpoints: scoped list and detail (arms and measured lift), drafting, the approval state machine and
the all-or-nothing write-back of outcomes, all through interventions.services."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.utils import timezone

from cartportal.models import AuditEvent
from interventions import selectors, services
from interventions.models import Assignment, Campaign
from segments.models import AudienceDefinition
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token_client(world) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")


def _post(client, url, body=None):
    return client.post(url, data=body or {}, content_type="application/json")


def _error(response, status):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    return error


def _campaign(world, region=None, state="draft", name="Spring reminder", holdout_share=0.25):
    region = region or world.region_a
    return Campaign.objects.create(
        region=region,
        name=name,
        intervention="reminder",
        state=state,
        holdout_share=holdout_share,
        audience_kind="at_risk",
        audience_ref={"threshold": 0.5},
    )


def _audit(action, campaign=None):
    rows = AuditEvent.objects.filter(action=action)
    return rows.filter(object_id=str(campaign.pk)).count() if campaign else rows.count()


def test_list_is_scoped_filtered_ordered_and_exported(world):
    own_pending = _campaign(world, state="pending", name="A pending")
    own_draft = _campaign(world, state="draft", name="A draft")
    _campaign(world, world.region_b, state="pending", name="B pending")
    client = _client(world.manager_a)

    listed = client.get("/api/v1/campaigns/").json()
    assert listed["count"] == 2
    assert [row["id"] for row in listed["results"]] == [own_draft.pk, own_pending.pk]  # newest first
    assert {row["region"] for row in listed["results"]} == {world.region_a.code}

    pending = client.get("/api/v1/campaigns/", {"state": "pending"}).json()
    assert [row["name"] for row in pending["results"]] == ["A pending"]
    assert client.get("/api/v1/campaigns/", {"region": world.region_b.code}).json()["count"] == 0
    by_name = client.get("/api/v1/campaigns/", {"ordering": "name"}).json()["results"]
    assert [row["name"] for row in by_name] == ["A draft", "A pending"]
    _error(client.get("/api/v1/campaigns/", {"state": "sleeping"}), 400)

    exported = client.get("/api/v1/campaigns/", {"format": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert sorted(r["name"] for r in rows) == ["A draft", "A pending"]

    everything = _client(world.executive).get("/api/v1/campaigns/").json()
    assert everything["count"] == 3


def test_detail_shows_arms_and_the_measured_lift_of_the_selectors(world):
    campaign = _campaign(world, state="running", holdout_share=0.25)
    now = timezone.now()
    treated = [CustomerFactory(region=world.region_a) for _ in range(30)]
    holdout = [CustomerFactory(region=world.region_a) for _ in range(10)]
    Assignment.objects.bulk_create(
        [Assignment(campaign=campaign, customer=c, arm="treated", assigned_at=now) for c in treated]
        + [Assignment(campaign=campaign, customer=c, arm="holdout", holdout=True, assigned_at=now) for c in holdout]
    )
    outcomes = {
        c.pk: {"visited": True, "converted": i < 12, "revenue": 40 if i < 12 else 0} for i, c in enumerate(treated)
    }
    outcomes |= {
        c.pk: {"visited": i < 5, "converted": i < 2, "revenue": 40 if i < 2 else 0} for i, c in enumerate(holdout)
    }
    response = _post(
        _client(world.manager_a),
        f"/api/v1/campaigns/{campaign.pk}/outcomes/",
        {"outcomes": [{"customer_id": cid, **values} for cid, values in outcomes.items()]},
    )
    assert response.status_code == 200 and response.json() == {"campaign": campaign.pk, "recorded": 40}

    body = _token_client(world).get(f"/api/v1/campaigns/{campaign.pk}/").json()
    arms = {arm["arm"]: arm for arm in body["arms"]}
    assert arms["treated"] | {"revenue": None} == {
        "arm": "treated",
        "holdout": False,
        "n": 30,
        "visits": 30,
        "conversions": 12,
        "revenue": None,
        "with_outcome": 30,
    }
    assert arms["treated"]["revenue"] == pytest.approx(480.0) and arms["holdout"]["revenue"] == pytest.approx(80.0)
    assert (arms["holdout"]["n"], arms["holdout"]["conversions"], arms["holdout"]["visits"]) == (10, 2, 5)
    lift = body["lift"]
    assert lift["ready"] is True
    assert lift["rate"]["treated_rate"] == pytest.approx(0.4) and lift["rate"]["control_rate"] == pytest.approx(0.2)
    assert lift["rate"]["difference"] == pytest.approx(0.2)
    assert lift["revenue"]["difference"] == pytest.approx(16.0 - 8.0)
    assert lift == json.loads(json.dumps(selectors.campaign_lift(Campaign.objects.get(pk=campaign.pk))))


def test_draft_through_the_api_and_its_clear_errors(world):
    client = _token_client(world)
    created = _post(
        client,
        "/api/v1/campaigns/",
        {"region": world.region_a.code, "name": "Win back", "intervention": "price_drop", "holdout_share": 0.2},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["state"], body["region"], body["holdout_share"], body["assigned"]) == ("draft", "NORTH", 0.2, 0)
    assert _audit("campaign.create", Campaign.objects.get(pk=body["id"])) == 1

    count = Campaign.objects.count()
    unknown = _error(
        _post(client, "/api/v1/campaigns/", {"region": "NORTH", "name": "x", "intervention": "free_money"}), 400
    )
    assert "unknown intervention 'free_money'" in unknown["message"] and "reminder" in unknown["message"]
    share = _error(
        _post(
            client,
            "/api/v1/campaigns/",
            {"region": "NORTH", "name": "x", "intervention": "reminder", "holdout_share": 1.5},
        ),
        400,
    )
    assert "holdout share" in share["message"]
    missing = _error(_post(client, "/api/v1/campaigns/", {"region": "NORTH"}), 400)
    assert {"name", "intervention"} <= set(missing["fields"])
    foreign = _post(client, "/api/v1/campaigns/", {"region": "SOUTH", "name": "x", "intervention": "reminder"})
    _error(foreign, 404)
    assert Campaign.objects.count() == count


def test_draft_for_an_audience_strategy_of_the_same_region(world):
    own = AudienceDefinition.objects.create(
        region=world.region_a,
        name="Cart savers",
        universe="all",
        result={"segments": [{"segment": "Big baskets"}, {"segment": "Everyone else"}]},
    )
    foreign = AudienceDefinition.objects.create(region=world.region_b, name="South", universe="all")
    client = _client(world.manager_a)
    base = {"region": "NORTH", "name": "Nudge", "intervention": "reminder"}

    created = _post(client, "/api/v1/campaigns/", {**base, "audience_id": own.pk, "audience_segment": "Big baskets"})
    assert created.status_code == 201 and created.json()["audience"] == "Cart savers: Big baskets"

    count = Campaign.objects.count()
    not_here = _error(_post(client, "/api/v1/campaigns/", {**base, "audience_id": foreign.pk}), 400)
    assert not_here["fields"] == {"audience_id": [f"No audience strategy {foreign.pk} in region NORTH."]}
    bad_segment = _error(
        _post(client, "/api/v1/campaigns/", {**base, "audience_id": own.pk, "audience_segment": "Nobody"}), 400
    )
    assert "Big baskets" in bad_segment["fields"]["audience_segment"][0]
    _error(_post(client, "/api/v1/campaigns/", {**base, "audience_segment": "Big baskets"}), 400)
    assert Campaign.objects.count() == count


def test_approval_rules_are_the_services_and_each_decision_is_one_audit_row(world):
    own = _campaign(world, state="pending")
    url = f"/api/v1/campaigns/{own.pk}"

    # The manager of region B does not see it: 404 exactly like a missing campaign, nothing changes.
    foreign = _post(_client(world.manager_b), f"{url}/approve/", {"reason": "mine"})
    assert foreign.status_code == 404
    assert (
        foreign.json() == _post(_client(world.manager_b), "/api/v1/campaigns/987654/approve/", {"reason": "x"}).json()
    )
    # The analyst of region A sees it but may not decide; a read+write partner token neither.
    viewer = _error(_post(_client(world.analyst_a), f"{url}/approve/", {"reason": "looks fine"}), 403)
    assert "approve" in viewer["message"]
    _error(_post(_token_client(world), f"{url}/reject/", {"reason": "no"}), 403)
    # A decision needs a reason.
    no_reason = _error(_post(_client(world.manager_a), f"{url}/approve/", {"reason": "  "}), 400)
    assert "reason" in no_reason["message"]
    assert Campaign.objects.get(pk=own.pk).state == "pending" and _audit("campaign.approve") == 0

    approved = _post(_client(world.manager_a), f"{url}/approve/", {"reason": "fits the budget"})
    assert approved.status_code == 200
    assert (approved.json()["state"], approved.json()["override"]) == ("approved", False)
    assert _audit("campaign.approve", own) == 1
    row = AuditEvent.objects.get(action="campaign.approve", object_id=str(own.pk))
    assert (row.reason, row.region_code, row.before, row.after["state"]) == (
        "fits the budget",
        "NORTH",
        {"state": "pending"},
        "approved",
    )

    again = _error(_post(_client(world.manager_a), f"{url}/approve/", {"reason": "again"}), 409)
    assert again["code"] == "invalid_state" and "approved" in again["message"]
    assert _audit("campaign.approve", own) == 1

    south = _campaign(world, world.region_b, state="pending")
    rejected = _post(_client(world.executive), f"/api/v1/campaigns/{south.pk}/reject/", {"reason": "off-brand"})
    assert rejected.status_code == 200 and rejected.json()["override"] is True
    assert _audit("campaign.reject", south) == 1 and _audit("campaign.reject") == 1


def test_lifecycle_through_the_api_and_the_kill_switch(world):
    client = _token_client(world)
    campaign = _campaign(world, state="draft")
    url = f"/api/v1/campaigns/{campaign.pk}"
    assert _post(client, f"{url}/submit/").json()["state"] == "pending"
    _error(_post(client, f"{url}/start/"), 409)  # not approved yet
    services.campaign_transition(actor=world.manager_a, campaign_id=campaign.pk, action="approve", reason="ok")
    services.kill_switch_set(actor=world.executive, engaged=True, reason="incident")
    blocked = _error(_post(client, f"{url}/start/"), 409)
    assert blocked["code"] == "kill_switch"
    services.kill_switch_set(actor=world.executive, engaged=False, reason="resolved")
    assert _post(client, f"{url}/start/").json()["state"] == "running"
    _error(_post(client, f"{url}/stop/", {}), 400)  # stopping needs a reason
    assert _post(client, f"{url}/stop/", {"reason": "budget spent"}).json()["state"] == "stopped"
    states = AuditEvent.objects.filter(object_type="interventions.campaign", object_id=str(campaign.pk))
    assert [a.split(".")[1] for a in states.order_by("id").values_list("action", flat=True)] == [
        "submit",
        "approve",
        "start",
        "stop",
    ]


def test_outcomes_are_all_or_nothing_and_name_the_bad_customers(world):
    campaign = _campaign(world, state="running")
    now = timezone.now()
    mine = [CustomerFactory(region=world.region_a) for _ in range(3)]
    Assignment.objects.bulk_create(
        [Assignment(campaign=campaign, customer=c, arm="treated", assigned_at=now) for c in mine]
    )
    not_assigned = CustomerFactory(region=world.region_a)
    foreign = CustomerFactory(region=world.region_b)
    url = f"/api/v1/campaigns/{campaign.pk}/outcomes/"
    client = _token_client(world)

    def state():
        rows = Assignment.objects.filter(campaign=campaign).order_by("pk")
        return list(rows.values_list("visited", "converted", "revenue", "outcome_at"))

    before, audited = state(), _audit("campaign.outcomes")
    batch = [{"customer_id": c.pk, "converted": True, "revenue": "10.50"} for c in mine]
    mixed = batch + [
        {"customer_id": foreign.pk, "converted": True},
        {"customer_id": not_assigned.pk},
        {"customer_id": 987654321, "visited": True},
    ]
    error = _error(_post(client, url, {"outcomes": mixed}), 400)
    assert error["fields"] == {"customer_id": sorted([foreign.pk, not_assigned.pk, 987654321])}
    assert "nothing was recorded" in error["message"]
    assert state() == before and _audit("campaign.outcomes") == audited
    assert AuditEvent.objects.filter(action="access.denied", object_id=str(foreign.pk)).count() == 1

    twice = _error(_post(client, url, {"outcomes": batch + batch[:1]}), 400)
    assert str(mine[0].pk) in twice["fields"]["outcomes"][0]
    _error(_post(client, url, {"outcomes": [{"customer_id": mine[0].pk, "revenue": "-3"}]}), 400)
    _error(_post(client, url, {"outcomes": []}), 400)
    _error(_post(client, url, {"outcomes": "all of them"}), 400)
    assert state() == before

    done = _post(client, url, {"outcomes": batch})
    assert done.status_code == 200 and done.json()["recorded"] == 3
    rows = Assignment.objects.filter(campaign=campaign)
    assert rows.filter(converted=True, outcome_at__isnull=False).count() == 3
    assert {str(r) for r in rows.values_list("revenue", flat=True)} == {"10.50"}
    assert _audit("campaign.outcomes") == audited + 1
