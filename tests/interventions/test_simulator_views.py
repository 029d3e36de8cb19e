"""The manager's path through the what-if simulator: open it, pick an audience, an intervention and its
parameters, and read reach after consent and caps, incremental conversions, revenue, cost and net margin; the API
gives the same figures; a foreign region answers like a missing one."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from interventions.models import Assignment, Campaign
from tests.base import PASSWORD
from tests.factories import CustomerFactory, OrderFactory
from tests.predictions.price_history import write_price_history
from tests.segments.factories import profile, segment

pytestmark = pytest.mark.django_db
AUDIENCE = "value_group:big_fish"  # the campaign form's one-line audience
Z = stats.norm.ppf(0.975)


def _client(user) -> Client:
    client = Client()
    # through the login form: the throttling backend needs the request
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def _measured_reminder(region, *, treated=(200, 30), holdout=(200, 10)):
    """A completed reminder campaign with outcomes: 15 % conversion treated, 5 % in the holdout."""
    campaign = Campaign.objects.create(
        region=region, name="last reminder", intervention="reminder", state=Campaign.State.COMPLETED
    )
    past = timezone.now() - dt.timedelta(days=60)
    rows = []
    for is_holdout, (n, hits) in ((False, treated), (True, holdout)):
        for i in range(n):
            rows.append(
                Assignment(
                    campaign=campaign,
                    customer=CustomerFactory(region=region),
                    arm="holdout" if is_holdout else "treated",
                    holdout=is_holdout,
                    assigned_at=past,
                    converted=i < hits,
                    visited=i < hits,
                    revenue=Decimal("40") if i < hits else Decimal("0"),
                    outcome_at=past,
                )
            )
    Assignment.objects.bulk_create(rows)
    return campaign


def _audience(region):
    """20 big-fish customers with a 40.00 order each; one without consent, one erased, one over the weekly cap."""
    segment(region, name="Big fish", kind="value_group", code="big_fish", size=20)
    customers = [profile(region, value_group="big_fish").customer for _ in range(20)]
    for customer in customers:
        OrderFactory(customer=customer, total=Decimal("40.00"))
    customers[0].consent_marketing = False
    customers[0].save()
    customers[1].erased_at = timezone.now()
    customers[1].save()
    running = Campaign.objects.create(region=region, name="weekly", intervention="reminder", state="running")
    for n in range(3):
        other = running if n == 0 else Campaign.objects.create(region=region, name=f"w{n}", intervention="reminder")
        Assignment.objects.create(campaign=other, customer=customers[2], arm="treated", assigned_at=timezone.now())
    return customers


def test_manager_simulates_a_reminder_on_a_segment(world):
    _measured_reminder(world.region_a)
    _audience(world.region_a)
    client = _client(world.manager_a)

    page = client.get(reverse("interventions:simulator"))
    assert page.status_code == 200 and "Value group: Big fish" in page.content.decode()
    assert page.context["result"] is None

    query = {"region": "NORTH", "audience": AUDIENCE, "intervention": "reminder", "holdout_share": "0.1"}
    page = client.get(reverse("interventions:simulator"), {**query, "channel": "email"})
    result = page.context["result"]
    assert result["ready"], result
    assert result["reach"] == {
        "audience": 20,
        "without_consent_or_erased": 2,
        "over_contact_cap": 1,
        "over_weekly_cap": 1,
        "reach": 17,
        "treated": 15,
        "holdout": 2,
    }
    converted = result["uplift"]["converted"]
    assert result["uplift"]["source"] == "measured lift of the region's campaigns"
    assert converted["uplift"] == pytest.approx(0.10) and converted["control_rate"] == pytest.approx(0.05)
    estimate = math.sqrt(0.15 * 0.85 / 200 + 0.05 * 0.95 / 200)
    sampling = math.sqrt(0.15 * 0.85 / 15 + 0.05 * 0.95 / 2)
    half = Z * math.sqrt(estimate**2 + sampling**2)
    assert converted["low"] == pytest.approx(0.10 - half) and converted["high"] == pytest.approx(0.10 + half)
    # 15 treated at 15 % instead of 5 %: 1.5 more conversions of 40.00; reminders cost 0.02 each; margin 30 %
    assert result["incremental_conversions"]["expected"] == 1.5
    assert result["order_value"] == 40.0 and result["order_value_source"] == "the audience's mean order"
    assert result["incremental_revenue"]["expected"] == 60.0
    assert result["cost"]["expected"] == 0.3
    assert result["net_margin"]["expected"] == pytest.approx(17.7)
    body = page.content.decode()
    assert "Incremental conversions" in body and "17.7" in body and "measured lift of the region" in body

    response = client.get(reverse("interventions:simulator"), {**query, "format": "csv"})
    exported = b"".join(response.streaming_content).decode()
    assert "reach.reach,17,," in exported and "net_margin,17.7," in exported

    api = client.get(reverse("api-simulator"), query)
    assert api.status_code == 200
    assert api.json()["net_margin"] == result["net_margin"] and api.json()["reach"] == result["reach"]
    # the simulator's earlier audience keys still resolve to the same audience (saved links, API clients)
    earlier = client.get(reverse("api-simulator"), {**query, "audience": "segment:value_group:big_fish"}).json()
    assert earlier["reach"] == result["reach"] and earlier["audience"]["label"] == "Value group: Big fish"


def test_a_discount_moves_conversions_by_the_price_response(world):
    _measured_reminder(world.region_a)
    _audience(world.region_a)
    write_price_history(world.region_a, products_per_category=5, weeks=12)
    query = {"region": "NORTH", "audience": AUDIENCE, "intervention": "reminder", "holdout_share": "0.1"}
    result = _client(world.manager_a).get(reverse("interventions:simulator"), {**query, "discount": "10"})
    result = result.context["result"]
    e = result["price_response"]["elasticity"]
    assert -3.0 < e < -0.5 and result["discount"] == pytest.approx(0.1)
    treated = 0.15 * 0.9**e * 15
    assert result["incremental_conversions"]["expected"] == round(treated - 0.75, 1)
    assert result["cost"]["expected"] == pytest.approx(0.3 + 0.1 * 40 * treated, abs=0.01)


def test_nothing_to_simulate_says_why_and_bad_input_is_refused(world):
    _audience(world.region_a)
    client = _client(world.manager_a)
    query = {"region": "NORTH", "audience": AUDIENCE, "intervention": "price_drop", "holdout_share": "0.1"}
    result = client.get(reverse("interventions:simulator"), query).context["result"]
    assert not result["ready"] and "no campaign of price_drop has measured outcomes" in result["reason"]

    too_much = client.get(reverse("interventions:simulator"), {**query, "discount": "60"})
    assert too_much.status_code == 200 and too_much.context["result"] is None
    assert "discount" in too_much.context["form"].errors
    api = client.get(reverse("api-simulator"), {**query, "discount": "0.6"})
    assert api.status_code == 400 and "discount" in api.json()["error"]["fields"]
    unknown = client.get(reverse("api-simulator"), {**query, "audience": "value_group:nobody-here"})
    assert unknown.status_code == 400 and "no value group 'nobody-here' in region NORTH" in unknown.text
    wrong = client.get(reverse("api-simulator"), {**query, "audience": "everyone"})
    assert wrong.status_code == 400 and "unknown audience" in wrong.json()["error"]["message"]


def test_a_foreign_region_answers_like_a_missing_one(world):
    _audience(world.region_b)
    client = _client(world.manager_a)
    query = {"audience": AUDIENCE, "intervention": "reminder"}
    foreign = client.get(reverse("api-simulator"), {**query, "region": "SOUTH"})
    missing = client.get(reverse("api-simulator"), {**query, "region": "NOWHERE"})
    assert foreign.status_code == missing.status_code == 404 and foreign.json() == missing.json()
    page = client.get(reverse("interventions:simulator"), {**query, "region": "SOUTH", "holdout_share": "0.1"})
    assert page.context["result"] is None and "Big fish" not in page.content.decode()


def test_a_campaign_without_any_event_in_the_audience_is_not_counted_as_a_hit(world):
    """Predicted against measured: when no one of the audience converted in either arm, the measured interval is
    0 to 0 and says nothing; the page says it cannot be measured yet instead of calling the prediction right."""
    _measured_reminder(world.region_a)
    customers = _audience(world.region_a)
    quiet = Campaign.objects.create(
        region=world.region_a, name="quiet reminder", intervention="reminder", state=Campaign.State.COMPLETED
    )
    past = timezone.now() - dt.timedelta(days=30)
    Assignment.objects.bulk_create(
        Assignment(
            campaign=quiet,
            customer=customer,
            arm="holdout" if i % 2 else "treated",
            holdout=bool(i % 2),
            assigned_at=past,
            outcome_at=past,
            converted=False,
            visited=False,
            revenue=Decimal("0"),
        )
        for i, customer in enumerate(customers[3:13])
    )
    client = _client(world.manager_a)
    query = {"region": "NORTH", "audience": AUDIENCE, "intervention": "reminder", "holdout_share": "0.1"}
    page = client.get(reverse("interventions:simulator"), {**query, "channel": "email", "campaign": quiet.pk})

    measured = page.context["result"]["measured"]
    assert measured["ready"] and (measured["n_treated"], measured["n_holdout"]) == (5, 5)
    assert measured["metrics"]["converted"]["within_interval"] is None
    body = page.content.decode()
    assert "not measurable" in body and "cannot be measured yet" in body and "5 treated and 5 holdout" in body
