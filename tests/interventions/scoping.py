from interventions.models import Campaign
from tests.scoping import UrlSpec


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


SPECS = {
    "interventions:campaigns": UrlSpec("list", seed=_seed_campaigns),
    "interventions:approvals": UrlSpec("list", seed=_seed_campaigns),
    "interventions:campaign": UrlSpec("object", make=_make, post=_post("submit")),
    "interventions:approve": UrlSpec("object", make=_make, post=_post("approve")),
    "interventions:reject": UrlSpec("object", make=_make, post=_post("reject")),
}
