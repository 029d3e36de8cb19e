import datetime as dt

from interventions.models import Campaign, PromotionOffer
from tests.factories import CustomerFactory
from tests.scoping import UrlSpec

WEEK = dt.date(2026, 11, 16)


def _campaign(region, name="c", state=Campaign.State.PENDING):
    return Campaign.objects.create(region=region, name=name, intervention="reminder", state=state)


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
    "interventions:simulator": UrlSpec("list", seed=_seed_segments),
    "api-simulator": UrlSpec("list", seed=_seed_segments, query=SIMULATION),
}
