"""Demo builder for interventions (called by `manage.py seed_demo`): in every region a demo manager looks after,
one campaign waiting for approval (so the approvals inbox has work in it) and one running campaign with its
customers assigned, then this week's promotions for those regions. Re-running adds nothing twice."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from cartportal.access import REGIONAL_MANAGER, SystemActor, region_ids_for
from cartportal.models import Customer, Region
from cartportal.services import DomainError
from interventions import services
from interventions.models import Campaign
from interventions.promotions.services import promotions_generate

ACTOR = SystemActor("command:seed_demo")
PENDING = ("Cart reminder", "reminder", "Customers with a saved cart", "Weekly reminder of saved carts.")
RUNNING = ("Review reassurance", "review_reassurance", "Customers who abandoned a cart", "Reviews for carted items.")


def demo_regions() -> list[Region]:
    """The regions that have a regional manager (the demo logins' regions)."""
    ids: set[int] = set()
    for manager in get_user_model().objects.filter(groups__name=REGIONAL_MANAGER):
        ids |= set(region_ids_for(manager, "approve") or [])
    return list(Region.objects.filter(pk__in=ids).order_by("code"))


def _campaign(region: Region, spec: tuple, *, run: bool) -> Campaign | None:
    title, code, audience, reason = spec
    name = f"{title} ({region.code})"
    if Campaign.objects.filter(region=region, name=name).exists():
        return None
    campaign = services.campaign_create_draft(
        actor=ACTOR, region=region, name=name, intervention=code, audience=audience, holdout_share=0.2, reason=reason
    )
    services.campaign_transition(actor=ACTOR, campaign_id=campaign.pk, action="submit", reason="demo")
    if run:
        services.campaign_transition(actor=ACTOR, campaign_id=campaign.pk, action="approve", reason="demo")
        services.campaign_transition(actor=ACTOR, campaign_id=campaign.pk, action="start", reason="demo")
        ids = Customer.objects.filter(region=region).order_by("pk").values_list("pk", flat=True)[:2000]
        services.campaign_assign(actor=ACTOR, campaign_id=campaign.pk, customer_ids=list(ids))
    return campaign


def build_demo(stdout) -> None:
    regions = demo_regions()
    made = [c for r in regions for c in (_campaign(r, PENDING, run=False), _campaign(r, RUNNING, run=True)) if c]
    stdout.write(f"interventions: {len(made)} demo campaigns in {', '.join(r.code for r in regions) or 'no region'}")
    if not regions:
        return
    try:
        counts = promotions_generate(actor=ACTOR, region_ids=[r.pk for r in regions])
    except DomainError as exc:
        stdout.write(f"interventions: no promotions ({exc.message})")
        return
    stdout.write(f"interventions: {counts['offers']} promotions for the week of {counts['week_start']}")
