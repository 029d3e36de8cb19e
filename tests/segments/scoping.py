from segments.models import AudienceDefinition
from tests.scoping import UrlSpec
from tests.segments import factories as f


def _summary(world):
    f.segment(world.region_a, name="marker-own-segment")
    f.segment(world.region_b, name="marker-foreign-segment", code="loyal")
    return "marker-own-segment", "marker-foreign-segment"


def _members(world):
    f.profile(world.region_a, external_id="marker-own-customer")
    f.profile(world.region_b, external_id="marker-foreign-customer")
    return "marker-own-customer", "marker-foreign-customer"


def _personas(world):
    f.persona_run(world.region_a, name="marker-own-persona")
    f.persona_run(world.region_b, name="marker-foreign-persona")
    return "marker-own-persona", "marker-foreign-persona"


def _transitions(world):
    f.snapshots(world.region_a, state_before="marker-own-before", state_after="Loyal")
    f.snapshots(world.region_b, state_before="marker-foreign-before", state_after="Loyal")
    return "marker-own-before", "marker-foreign-before"


def _audiences(world):
    f.audience(world.region_a, name="marker-own-audience")
    f.audience(world.region_b, name="marker-foreign-audience")
    return "marker-own-audience", "marker-foreign-audience"


def _audience(world, region):
    return {"pk": f.audience(region, name=f"audience-{region.code}").pk}


def _delete_audience(world, region):
    return _audience(world, region), {"action": "delete"}, _audience_count


def _audience_count():
    return AudienceDefinition.objects.count()


def _post_audience(world, region):
    data = {"region": region.code, "name": "foreign", "universe": "all", "rules": []}
    return {}, data, _audience_count


MEMBERS = "kind=value_group&code=big_fish"
SPECS = {
    "segments:index": UrlSpec("list", seed=_summary),
    "segments:rebuild": UrlSpec("list", get_status=405),
    "segments:members": UrlSpec("list", seed=_members, query=MEMBERS),
    "segments:personas": UrlSpec("list", seed=_personas),
    "segments:transitions": UrlSpec("list", seed=_transitions),
    "segments:audiences": UrlSpec("list", seed=_audiences, post=_post_audience),
    "segments:audience": UrlSpec("object", make=_audience, post=_delete_audience),
    "api-segments": UrlSpec("list", seed=_summary),
    "api-segment-members": UrlSpec("list", seed=_members, query=MEMBERS),
    "api-personas": UrlSpec("list", seed=_personas),
    "api-audiences": UrlSpec("list", seed=_audiences, post=_post_audience),
    "api-audience": UrlSpec("object", make=_audience),
}
