"""The Win back page as a manager uses it: the ranked list, the measured lift against random, the CSV, and a
campaign drafted for the top 100 with the chosen customers recorded."""

import csv
import io
import re

import pytest
from django.test import Client

from cartportal import access
from cartportal.models import AuditEvent, Customer, Region
from interventions.models import Campaign
from tests.datasets import import_online_retail
from tests.factories import UserFactory
from tests.interventions.winback_data import seed_shop


def _manager(region, name="manager_wb"):
    user = UserFactory(username=name, roles=[access.REGIONAL_MANAGER])
    access.grant_region(user, region, access.REGIONAL_MANAGER)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_manager_opens_win_back_sees_the_lift_and_drafts_a_campaign_for_the_top_100(data_dir):
    import_online_retail(data_dir / "online_retail_sample40000.csv")
    region = max(Region.objects.all(), key=lambda r: Customer.objects.filter(region=r).count())
    client = _manager(region)

    home = client.get("/").content.decode()
    assert 'href="/interventions/winback/"' in home  # the tab is in the navigation
    page = client.get("/interventions/winback/")
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
