"""The whole campaign loop as its users walk it, on real PostgreSQL, Redis and a Celery worker: a manager drafts a
campaign on a saved audience, the approval page shows who it will reach, the manager approves, the kill switch
holds the start back until released, the analyst starts it, a worker assigns exactly the eligible customers
(consent, erasure, contact cap and nothing-to-offer excluded), the partner pulls the assignments, imported orders
become outcomes on the worker, and the lift with its confidence interval shows on the campaign page and the
executive page."""

import csv
import datetime as dt
import time

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cartportal import access
from cartportal.models import AuditEvent, CartEvent, Customer, JobRun
from interventions.audiences import audience_list_create
from interventions.models import Assignment, Campaign
from tests.base import build_world
from tests.factories import CustomerFactory, ProductFactory, ReviewFactory, SessionFactory, UserFactory


def _wait(condition, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("the worker did not finish in time")


def _with_open_cart(region, n: int, products) -> list[Customer]:
    customers = []
    for i in range(n):
        customer = CustomerFactory(region=region, consent_marketing=True)
        session = SessionFactory(region=region, customer=customer)
        CartEvent.objects.create(
            session=session,
            customer=customer,
            region=region,
            product=products[i % len(products)],
            kind="add",
            unit_price=products[i % len(products)].price,
            occurred_at=timezone.now() - dt.timedelta(days=2),
        )
        customers.append(customer)
    return customers


def _people(world):
    region = world.region_a
    products = [ProductFactory(name=f"Linen throw {i}") for i in range(3)]
    for product in products:  # enough good reviews for the review reassurance to have something to say
        for _ in range(4):
            ReviewFactory(product=product, customer=CustomerFactory(region=region), rating=5)
    eligible = _with_open_cart(region, 80, products)
    no_consent = _with_open_cart(region, 6, products)
    Customer.objects.filter(pk__in=[c.pk for c in no_consent]).update(consent_marketing=False)
    erased = _with_open_cart(region, 4, products)
    Customer.objects.filter(pk__in=[c.pk for c in erased]).update(erased_at=timezone.now())
    capped = _with_open_cart(region, 5, products)
    for days in (1, 2, 3):  # three contacts this week already, in three campaigns: the cap (3) is reached
        earlier = Campaign.objects.create(
            region=region, name=f"Earlier {days}", intervention="reminder", state="running"
        )
        for customer in capped:
            Assignment.objects.create(
                campaign=earlier,
                customer=customer,
                arm="reminder",
                assigned_at=timezone.now() - dt.timedelta(days=days),
            )
    nothing_to_offer = [CustomerFactory(region=region, consent_marketing=True) for _ in range(5)]
    return {
        "eligible": eligible,
        "excluded": no_consent + erased + capped,
        "nothing_to_offer": nothing_to_offer,
        "everyone": eligible + no_consent + erased + capped + nothing_to_offer,
    }


def _orders_file(path, assignments, now) -> None:
    """A shop's order export a day after the campaign: half of the treated customers buy, a tenth of the holdout."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["invoice", "customer_id", "date", "sku", "quantity", "unit_price"])
        treated = [a for a in assignments if not a.holdout]
        holdout = [a for a in assignments if a.holdout]
        buyers = treated[::2] + holdout[::10]
        for i, a in enumerate(buyers):
            placed = (now - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([f"INV-{i}", a.customer.external_id, placed, "SKU-LOOP", 2, "20.00"])


@pytest.mark.django_db(transaction=True)
def test_draft_approve_start_assign_pull_attribute_and_measure(celery_worker_process, tmp_path):
    world = build_world()
    people = _people(world)
    audience = audience_list_create(
        actor=world.manager_a,
        region=world.region_a,
        name="Saved carts",
        customer_ids=[c.pk for c in people["everyone"]],
    )
    manager, analyst, executive = Client(), Client(), Client()
    manager.force_login(world.manager_a)
    analyst.force_login(world.analyst_a)
    executive.force_login(world.executive)

    # draft with a saved audience and two arms, then submit
    drafted = manager.post(
        reverse("interventions:campaigns"),
        {
            "region": world.region_a.code,
            "name": "Saved-cart nudge",
            "intervention": "reminder",
            "more_arms": ["review_reassurance"],
            "allocation": "thompson",
            "audience": f"list:{audience.pk}",
            "holdout_share": 0.3,
        },
    )
    assert drafted.status_code == 302, drafted.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Saved-cart nudge")
    assert campaign.audience_kind == "list" and campaign.arms == ["reminder", "review_reassurance"]
    bad = manager.post(
        reverse("interventions:campaigns"),
        {
            "region": world.region_a.code,
            "name": "x",
            "intervention": "reminder",
            "allocation": "uniform",
            "audience": "list:987654",
            "holdout_share": 0.1,
        },
    )
    assert bad.status_code == 200 and "no customer list 987654" in bad.content.decode()
    manager.post(reverse("interventions:campaign", args=[campaign.pk]), {"action": "submit", "reason": "ready"})

    # the approval page shows who will be reached before anyone approves (four eyes: a second manager approves)
    deputy_user = UserFactory(username="deputy_loop", roles=[access.REGIONAL_MANAGER])
    access.grant_region(deputy_user, world.region_a, access.REGIONAL_MANAGER)
    deputy = Client()
    deputy.force_login(deputy_user)
    page = deputy.get(reverse("interventions:approve", args=[campaign.pk])).content.decode()
    reach_eligible = len(people["eligible"]) + len(people["nothing_to_offer"])
    assert f"<strong>{reach_eligible}</strong> customers" in page
    assert "6 without marketing consent or erased" not in page and "10 without marketing consent or erased" in page
    assert "5 at the contact cap" in page and "30%" in page
    assert people["eligible"][0].external_id in page
    assert deputy.post(reverse("interventions:approve", args=[campaign.pk]), {"reason": "fits"}).status_code == 302

    # the kill switch, engaged by the executive from the portal, holds the start back
    executive.post(
        reverse("interventions:kill_switch"), {"region": world.region_a.code, "engaged": "1", "reason": "incident"}
    )
    analyst.post(reverse("interventions:campaign", args=[campaign.pk]), {"action": "start", "reason": "go"})
    assert Campaign.objects.get(pk=campaign.pk).state == "approved"
    assert AuditEvent.objects.filter(action="interventions.kill_switch", reason="incident").exists()
    api_exec = Client()
    api_exec.force_login(world.executive)
    released = api_exec.post(
        "/api/v1/kill-switch/",
        {"engaged": False, "reason": "resolved", "region": world.region_a.code},
        content_type="application/json",
    )
    assert released.status_code == 200 and released.json()[0]["engaged"] is False

    # the analyst starts it: a worker assigns the eligible customers, with the job's progress on its page
    analyst.post(reverse("interventions:campaign", args=[campaign.pk]), {"action": "start", "reason": "go"})
    campaign.refresh_from_db()
    assert campaign.state == "running" and campaign.assign_job_id
    job = _wait(lambda: JobRun.objects.filter(pk=campaign.assign_job_id, state__in=["succeeded", "failed"]).first())
    assert job.state == "succeeded", job.error
    assert analyst.get(reverse("portal:job", args=[job.pk])).status_code == 200
    assigned = Assignment.objects.filter(campaign=campaign).select_related("customer")
    assert {a.customer_id for a in assigned} == {c.pk for c in people["eligible"]}
    assert job.counts["over_contact_cap"] == 5 and job.counts["no_consent_or_erased"] == 10
    campaign.refresh_from_db()
    assert sum(campaign.refusals.values()) == 5 and all("nothing to offer" in r for r in campaign.refusals)
    holdout = [a for a in assigned if a.holdout]
    assert 10 <= len(holdout) <= 40 and all(a.propensity == pytest.approx(0.3) for a in holdout)
    treated = [a for a in assigned if not a.holdout]
    assert {a.arm for a in treated} == {"reminder", "review_reassurance"}
    assert all(0 < a.propensity < 0.7 for a in treated)
    assert all("Linen throw" in a.content["text"] for a in treated)

    # the partner pulls the treated assignments (paginated JSON, and CSV)
    partner = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    pulled = partner.get(f"/api/v1/campaigns/{campaign.pk}/assignments/", {"page_size": 500}).json()
    assert pulled["count"] == len(treated)
    assert {r["customer"] for r in pulled["results"]} == {a.customer.external_id for a in treated}
    exported = partner.get(f"/api/v1/campaigns/{campaign.pk}/assignments/", {"format": "csv"}).content.decode()
    assert exported.count("\n") == len(treated) + 1 and "idempotency_key" in exported.splitlines()[0]

    # the campaign ran three days ago; the shop's orders of yesterday arrive through the import
    now = timezone.now()
    Assignment.objects.filter(campaign=campaign).update(assigned_at=now - dt.timedelta(days=3))
    assigned = list(Assignment.objects.filter(campaign=campaign).select_related("customer").order_by("pk"))
    orders = tmp_path / "orders.csv"
    _orders_file(orders, assigned, now)
    call_command("import_file", "transactions", str(orders), "--region", world.region_a.code)
    _wait(lambda: not Assignment.objects.filter(campaign=campaign, outcome_at__isnull=True).exists())
    treated_buyers = Assignment.objects.filter(campaign=campaign, holdout=False, converted=True).count()
    assert treated_buyers == len(treated[::2]) and Assignment.objects.filter(
        campaign=campaign, holdout=True, converted=True
    ).count() == len(holdout[::10])
    assert Assignment.objects.filter(campaign=campaign, converted=True).first().revenue == 40

    # lift with its confidence interval, on the campaign page and the executive page
    page = manager.get(reverse("interventions:campaign", args=[campaign.pk])).content.decode()
    assert "Measured lift against the holdout" in page and " to " in page and "Conversion rate" in page
    detail = partner.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    rate = detail["lift"]["rate"]
    assert (
        detail["lift"]["ready"] and rate["difference"] > 0.2 and rate["ci_low"] < rate["difference"] < rate["ci_high"]
    )
    rollup = executive.get(reverse("portal:executive")).content.decode()
    assert "95% CI" in rollup
