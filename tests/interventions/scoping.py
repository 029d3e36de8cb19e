import datetime as dt

from interventions.models import Campaign, PromotionOffer
from tests.factories import CustomerFactory
from tests.scoping import UrlSpec

WEEK = dt.date(2026, 11, 16)


def _campaign(region, name="c", state=Campaign.State.PENDING):
    return Campaign.objects.create(
        region=region,
        name=name,
        intervention="reminder",
        state=state,
        audience_kind="at_risk",
        audience_ref={"threshold": 0.5},
    )


def _seed_campaigns(world):
    _campaign(world.region_a, "marker-own-campaign")
    _campaign(world.region_b, "marker-foreign-campaign")
    return "marker-own-campaign", "marker-foreign-campaign"


def _make(world, region):
    return {"pk": _campaign(region).pk}


def _snapshot(pk):
    from cartportal.models import AuditEvent

    def snap():
        c = Campaign.objects.get(pk=pk)
        return (
            c.state,
            c.decided_by,
            c.decision_reason,
            AuditEvent.objects.filter(action__startswith="campaign.").count(),
        )

    return snap


def _post(action):
    def post(world, region):
        c = _campaign(region, state=Campaign.State.DRAFT if action == "submit" else Campaign.State.PENDING)
        data = {"reason": "looks fine"} if action != "submit" else {"action": "submit", "reason": "ready"}
        return {"pk": c.pk}, data, _snapshot(c.pk)

    return post


def offer(region, external_id: str) -> PromotionOffer:
    customer = CustomerFactory(region=region, external_id=external_id)
    return PromotionOffer.objects.create(
        customer=customer,
        region=region,
        week_start=WEEK,
        rank=1,
        category="code 229",
        discount_rate=0.1,
        relation="new",
        predicted_order_value=12.5,
        base="transaction_only",
    )


def _seed_offers(world):
    offer(world.region_a, "marker-own-offer")
    offer(world.region_b, "marker-foreign-offer")
    return "marker-own-offer", "marker-foreign-offer"


def _promotion_jobs():
    from cartportal.models import JobRun

    return JobRun.objects.filter(kind="interventions.promotions").count()


def _post_generate(world, region):
    return {}, {"region": region.code}, _promotion_jobs


def _seed_winback(world):
    from predictions.winback.selectors import winback_for
    from tests.interventions.winback_data import seed_shop

    seed_shop(world.region_a, "marker-own-winback", seed=1)
    seed_shop(world.region_b, "marker-foreign-winback", seed=2)
    for region in (world.region_a, world.region_b):  # what the worker computes when the page first asks
        winback_for(None, [region.pk])
    return "marker-own-winback", "marker-foreign-winback"


def _winback_campaigns():
    return Campaign.objects.count()


def _post_winback_draft(world, region):
    return {}, {"region": region.code, "top": 10, "intervention": "winback_discount"}, _winback_campaigns


def _seed_segments(world):
    from tests.segments.factories import segment

    segment(world.region_a, name="marker-own-segment")
    segment(world.region_b, name="marker-foreign-segment")
    return "marker-own-segment", "marker-foreign-segment"


SIMULATION = "region=NORTH&audience=segment:value_group:big_fish&intervention=reminder"

SPECS = {
    "interventions:campaigns": UrlSpec("list", seed=_seed_campaigns),
    "interventions:approvals": UrlSpec("list", seed=_seed_campaigns),
    "interventions:campaign": UrlSpec("object", make=_make, post=_post("submit")),
    "interventions:approve": UrlSpec("object", make=_make, post=_post("approve")),
    "interventions:reject": UrlSpec("object", make=_make, post=_post("reject")),
    "interventions:promotions": UrlSpec("list", seed=_seed_offers),
    "interventions:promotions_generate": UrlSpec("list", get_status=405, post=_post_generate),
    "api-promotions": UrlSpec("list", seed=_seed_offers),
    "interventions:winback": UrlSpec("list", seed=_seed_winback),
    "interventions:winback_draft": UrlSpec("list", get_status=405, post=_post_winback_draft),
    "interventions:simulator": UrlSpec("list", seed=_seed_segments),
    "api-simulator": UrlSpec("list", seed=_seed_segments, query=SIMULATION),
}


def _running_assignment(world, region):
    from django.utils import timezone

    from interventions.models import Assignment

    campaign = _campaign(region, state=Campaign.State.RUNNING)
    customer = CustomerFactory(region=region, external_id=f"marker-assigned-{region.code}")
    Assignment.objects.create(
        campaign=campaign, customer=customer, arm="reminder", assigned_at=timezone.now(), propensity=0.8
    )
    return {"pk": campaign.pk}


def _seed_switches(world):
    from interventions.models import KillSwitch

    KillSwitch.objects.create(region=world.region_a, engaged=False, reason="marker-own-switch")
    KillSwitch.objects.create(region=world.region_b, engaged=False, reason="marker-foreign-switch")
    return "marker-own-switch", "marker-foreign-switch"


def _switch_snapshot():
    from interventions.models import KillSwitch

    return sorted(KillSwitch.objects.values_list("pk", "engaged", "reason"))


def _post_switch(world, region):
    return {}, {"engaged": "1", "reason": "not mine to pull", "region": region.code}, _switch_snapshot


def _post_switch_api(world, region):
    return {}, {"engaged": True, "reason": "not mine to pull", "region": region.code}, _switch_snapshot


SPECS.update(
    {
        "interventions:kill_switch": UrlSpec("list", seed=_seed_switches, post=_post_switch),
        "api-kill-switch": UrlSpec("list", seed=_seed_switches, post=_post_switch_api),
        "api-campaigns-assignments": UrlSpec("object", make=_running_assignment),
    }
)
