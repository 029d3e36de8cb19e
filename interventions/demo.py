"""Demo builder for interventions (called by `manage.py seed_demo`): in every region a demo manager looks after, one
campaign waiting for approval (so the approvals inbox has work in it) and one campaign run through the real path:
a saved audience (an uploaded list of customers with a cart or a purchase to talk about), approval, assignment by
the same service the worker runs (Thompson sampling between a reminder and a review reassurance, with a holdout),
then the week after the assignment as orders imported through the ordinary import, attributed to the campaign.
Then this week's promotions for those regions. Re-running adds nothing twice.

Response model of the demo's week after the campaign (documented in the README): every assigned customer buys
with probability BASE_RATE; a treated one with BASE_RATE + UPLIFT[arm]; a purchase is placed at a uniformly random
moment of the attribution window and is worth the customer's mean past order (ORDER_VALUE when they have none).
Consent: the demo's consent export opts in a seeded CONSENT_SHARE of the audience that has not consented yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Avg, Exists, OuterRef
from django.utils import timezone

from cartportal.access import REGIONAL_MANAGER, SystemActor, region_ids_for
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import CartEvent, Customer, Order, Region
from cartportal.services import DomainError, customer_set_consent
from interventions import services
from interventions.assignment import campaign_assign_run
from interventions.attribution import outcomes_attribute
from interventions.audiences import audience_list_create
from interventions.models import Assignment, Campaign
from interventions.promotions.services import promotions_generate

ACTOR = SystemActor("command:seed_demo")
PENDING = ("Cart reminder", "reminder", "Weekly reminder of saved carts.")
RUNNING = ("Saved-cart nudge", ["reminder", "review_reassurance"], "Reminder against review reassurance.")
AUDIENCE_SIZE = 2000
CONSENT_SHARE = 0.7
BASE_RATE = 0.05
UPLIFT = {"reminder": 0.03, "review_reassurance": 0.05}
ORDER_VALUE = 40.0


def demo_regions() -> list[Region]:
    """The regions that have a regional manager (the demo logins' regions)."""
    ids: set[int] = set()
    for manager in get_user_model().objects.filter(groups__name=REGIONAL_MANAGER):
        ids |= set(region_ids_for(manager, "approve") or [])
    return list(Region.objects.filter(pk__in=ids).order_by("code"))


def _audience_ids(region: Region) -> list[int]:
    """Customers with something to talk about: a cart add or an order."""
    carted = CartEvent.objects.filter(customer=OuterRef("pk"), product__isnull=False)
    ordered = Order.objects.filter(customer=OuterRef("pk"))
    rows = Customer.objects.filter(region=region, erased_at__isnull=True).filter(Exists(carted) | Exists(ordered))
    return list(rows.order_by("pk").values_list("pk", flat=True)[:AUDIENCE_SIZE])


def _opt_in(ids: list[int], rng: np.random.Generator) -> None:
    for customer in Customer.objects.filter(pk__in=ids, consent_marketing=False).order_by("pk"):
        if rng.random() < CONSENT_SHARE:
            customer_set_consent(actor=ACTOR, customer=customer, marketing=True)


def _pending(region: Region) -> Campaign | None:
    title, code, reason = PENDING
    name = f"{title} ({region.code})"
    if Campaign.objects.filter(region=region, name=name).exists():
        return None
    campaign = services.campaign_create_draft(
        actor=ACTOR,
        region=region,
        name=name,
        intervention=code,
        audience_kind="at_risk",
        audience_ref={"threshold": 0.5},
        holdout_share=0.2,
        reason=reason,
    )
    return services.campaign_transition(actor=ACTOR, campaign_id=campaign.pk, action="submit", reason="demo")


def _running(region: Region, rng: np.random.Generator) -> Campaign | None:
    title, arms, reason = RUNNING
    name = f"{title} ({region.code})"
    ids = _audience_ids(region)
    if Campaign.objects.filter(region=region, name=name).exists() or not ids:
        return None
    _opt_in(ids, rng)
    audience = audience_list_create(
        actor=ACTOR, region=region, name=f"Customers with a cart or an order ({region.code})", customer_ids=ids
    )
    campaign = services.campaign_create_draft(
        actor=ACTOR,
        region=region,
        name=name,
        intervention=arms[0],
        arms=arms,
        audience_kind="list",
        audience_ref={"list_id": audience.pk},
        holdout_share=0.2,
        reason=reason,
    )
    for action in ("submit", "approve", "start"):
        campaign = services.campaign_transition(actor=ACTOR, campaign_id=campaign.pk, action=action, reason="demo")
    # The week after the campaign has to have happened already: the demo's campaign ran a window ago.
    at = timezone.now() - dt.timedelta(days=settings.CARTPORTAL_ATTRIBUTION_DAYS + 1)
    campaign_assign_run(actor=ACTOR, campaign_id=campaign.pk, job_id=campaign.assign_job_id, at=at)
    _import_week_after(region, campaign, rng)
    return campaign


def _import_week_after(region: Region, campaign: Campaign, rng: np.random.Generator) -> None:
    """The response model's orders, imported as a transactions file of the region."""
    assigned = list(Assignment.objects.filter(campaign=campaign).select_related("customer"))
    means = dict(
        Order.objects.filter(customer_id__in=[a.customer_id for a in assigned], total__gt=0)
        .values_list("customer_id")
        .annotate(v=Avg("total"))
    )
    window = settings.CARTPORTAL_ATTRIBUTION_DAYS * 86400
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["invoice", "customer_id", "date", "sku", "quantity", "unit_price"])
    for a in assigned:
        rate = BASE_RATE + (0 if a.holdout else UPLIFT.get(a.arm, 0))
        if rng.random() >= rate:
            continue
        placed = a.assigned_at + dt.timedelta(seconds=float(rng.uniform(60, window - 60)))
        value = round(float(means.get(a.customer_id) or ORDER_VALUE), 2)
        writer.writerow(
            [
                f"DEMO-{campaign.pk}-{a.pk}",
                a.customer.external_id,
                placed.strftime("%Y-%m-%d %H:%M:%S"),
                "DEMO-REORDER",
                1,
                value,
            ]
        )
    import_run(
        actor=ACTOR,
        source=out.getvalue().encode(),
        options=ImportOptions(kind="transactions", region=region.code, filename=f"demo-campaign-{campaign.pk}.csv"),
    )
    outcomes_attribute(actor=ACTOR, campaign_id=campaign.pk)


def build_demo(stdout) -> None:
    regions = demo_regions()
    made = []
    for region in regions:
        rng = np.random.default_rng(42 + region.pk)
        made += [c for c in (_pending(region), _running(region, rng)) if c]
    stdout.write(f"interventions: {len(made)} demo campaigns in {', '.join(r.code for r in regions) or 'no region'}")
    for campaign in made:
        if campaign.state == Campaign.State.RUNNING:
            measured = Assignment.objects.filter(campaign=campaign, outcome_at__isnull=False).count()
            stdout.write(f"interventions: {campaign.name}: {measured} assignments with attributed outcomes")
    if not regions:
        return
    try:
        counts = promotions_generate(actor=ACTOR, region_ids=[r.pk for r in regions])
    except DomainError as exc:
        stdout.write(f"interventions: no promotions ({exc.message})")
        return
    ranked_by = "the learnt ranking" if counts.get("ranked_by") == "model" else "the best-sellers"
    offers, best = counts.get("next_purchase_hit_rate"), counts.get("best_sellers_next_purchase_hit_rate")
    stdout.write(
        f"interventions: {counts['offers']} promotions for the week of {counts['week_start']}, ranked by {ranked_by}"
        f" (holdout: offers {offers} against best-sellers {best})"
    )
