"""The Win back page as a manager uses it: the ranked list, the measured lift against random, the CSV, and a
campaign drafted for the top 100 targeting a saved list of exactly those customers, whose reach the approval page
shows."""

import csv
import io
import re
import time

import pytest
from django.test import Client

from cartportal import access
from cartportal.models import AuditEvent, Customer, Region
from interventions.assignment import eligibility
from interventions.audiences import audience_customer_ids
from interventions.delivery.render import render_message
from interventions.models import Campaign
from interventions.services import campaign_transition
from tests.datasets import import_online_retail
from tests.factories import UserFactory
from tests.interventions.winback_data import seed_shop

REFERRAL_TOO_SMALL = "nothing to offer: the customer's orders are too small for a referral credit of at least 1.00"


def _manager(region, name="manager_wb"):
    return _manager_and_user(region, name)[0]


def _manager_and_user(region, name="manager_wb"):
    user = UserFactory(username=name, roles=[access.REGIONAL_MANAGER])
    access.grant_region(user, region, access.REGIONAL_MANAGER)
    client = Client()
    client.force_login(user)
    return client, user


def _when_computed(client, timeout: float = 900):
    """The Win back page once the worker has computed its list (the page reloads itself until then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get("/interventions/winback/")
        if 'id="winback-computing"' not in page.content.decode():
            return page
        time.sleep(2)
    raise AssertionError("the win-back list was not computed by the worker in time")


@pytest.mark.django_db(transaction=True)
def test_manager_opens_win_back_sees_the_lift_and_drafts_a_campaign_for_the_top_100(data_dir, celery_worker_process):
    import_online_retail(data_dir / "online_retail_sample40000.csv")
    region = max(Region.objects.all(), key=lambda r: Customer.objects.filter(region=r).count())
    client, manager = _manager_and_user(region)

    home = client.get("/").content.decode()
    assert 'href="/interventions/winback/"' in home  # the tab is in the navigation
    first = client.get("/interventions/winback/")  # nothing is fitted in the request: a worker computes the list
    assert first.status_code == 200 and 'id="winback-computing"' in first.content.decode()
    assert 'data-reload-after="10"' in first.content.decode() and "reload_when_ready.js" in first.content.decode()
    assert "format=csv" not in first.content.decode()  # no export link until the list is there
    not_yet = client.get("/interventions/winback/?format=csv")
    assert not_yet.status_code in (200, 503)  # 503 with Retry-After while the list is still being computed
    if not_yet.status_code == 503:
        assert not_yet["Retry-After"] == "60" and "being computed" in not_yet.content.decode()
    page = _when_computed(client)
    body = page.content.decode()
    assert page.status_code == 200
    lift = float(re.search(r'id="winback-measured-lift">([\d.]+)<', body).group(1))
    assert lift > 1.0  # the ranking finds more returners than a random pick on the last completed window
    assert "Random pick of the same size" in body and 'id="winback-ranked"' in body

    export = client.get("/interventions/winback/?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(rows) > 100
    probabilities = [float(r["probability"]) for r in rows]
    assert probabilities == sorted(probabilities, reverse=True)
    assert rows[0]["customer_id"] in body  # the page shows the same ranking first

    response = client.post(
        "/interventions/winback/draft/",
        {"region": region.code, "top": "100", "intervention": "membership_discount", "reason": "lapsed buyers"},
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/interventions/campaigns/{campaign.pk}/"
    assert (campaign.state, campaign.intervention, campaign.region) == ("draft", "membership_discount", region)
    assert "top 100" in campaign.audience
    recorded = AuditEvent.objects.get(action="campaign.winback_audience", object_id=str(campaign.pk))
    assert recorded.after["customers"] == [r["customer_id"] for r in rows[:100]]
    assert float(recorded.after["expected_returners"]) == pytest.approx(sum(probabilities[:100]), abs=0.2)
    detail = client.get(response["Location"]).content.decode()
    assert "Submit for approval" in detail and "win-back top 100" in detail

    # the campaign targets a saved customer list of exactly the top 100 of the ranking
    top = {r["customer_id"] for r in rows[:100]}
    assert campaign.audience_kind == "list"
    members = set(
        Customer.objects.filter(pk__in=audience_customer_ids(manager, campaign)).values_list("external_id", flat=True)
    )
    assert members == top
    # only those who consent are reached; the 101st of the ranking never is, though they consent too
    consenting = sorted(top)[::3]
    Customer.objects.filter(region=region).update(consent_marketing=False)
    Customer.objects.filter(region=region, external_id__in=consenting + [rows[100]["customer_id"]]).update(
        consent_marketing=True
    )
    eligible, counts = eligibility(manager, campaign, campaign.created_at)
    assert set(Customer.objects.filter(pk__in=eligible).values_list("external_id", flat=True)) == set(consenting)
    assert counts["audience"] == 100 and counts["no_consent_or_erased"] == 100 - len(consenting)

    # every one of them has a message to send: they all bought in the base period
    chosen = Customer.objects.filter(region=region, external_id__in=top)
    assert {render_message("winback_discount", c).refusal for c in chosen} == {""}
    referrals = [render_message("referral_code", c) for c in chosen]
    assert all(r.refusal in ("", REFERRAL_TOO_SMALL) for r in referrals)
    assert sum(r.refusal == "" for r in referrals) > 50

    campaign_transition(actor=manager, campaign_id=campaign.pk, action="submit", reason="")
    approval = client.get(f"/interventions/campaigns/{campaign.pk}/approve/").content.decode()
    reach = re.search(r'<dl class="facts" id="reach">(.*?)</dl>', approval, re.S).group(1)
    assert "(100 customers)" in reach and f"<strong>{len(consenting)}</strong> customers" in reach
    assert f"{100 - len(consenting)} without marketing consent" in reach


@pytest.mark.slow
@pytest.mark.django_db
def test_draft_refuses_other_interventions_and_bad_sizes_without_writing(world):
    seed_shop(world.region_a, "wb", seed=3)
    client = _manager(world.region_a)
    for data, message in [
        ({"intervention": "reminder", "top": "10"}, "win-back campaign uses one of"),
        ({"intervention": "referral_code", "top": "0"}, "between 1 and"),
        ({"intervention": "referral_code", "top": "ten"}, "whole number"),
    ]:
        response = client.post("/interventions/winback/draft/", {"region": world.region_a.code, **data}, follow=True)
        assert response.status_code == 200 and message in response.content.decode()
    assert not Campaign.objects.exists()
    ok = client.post(
        "/interventions/winback/draft/",
        {"region": world.region_a.code, "intervention": "referral_code", "top": "10"},
    )
    assert ok.status_code == 302 and Campaign.objects.get().intervention == "referral_code"


@pytest.mark.django_db
def test_a_region_without_enough_history_says_what_to_load(world):
    body = _manager(world.region_a).get("/interventions/winback/").content.decode()
    assert "No win-back list yet" in body and "no orders with a customer" in body
    executive = Client()
    executive.force_login(world.executive)
    body = executive.get("/interventions/winback/").content.decode()
    assert "Choose a region above" in body  # every region at once is not fitted in a request
    assert (
        "No win-back list yet"
        in executive.get(f"/interventions/winback/?region={world.region_b.code}").content.decode()
    )
