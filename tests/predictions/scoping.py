from cartportal.models import Session
from tests.scoping import UrlSpec


def _abandonment_sessions(world):
    Session.objects.create(external_id="marker-own-session", region=world.region_a)
    Session.objects.create(external_id="marker-foreign-session", region=world.region_b)
    return "marker-own-session", "marker-foreign-session"


def _abandonment_session(world, region):
    return {"pk": Session.objects.create(external_id=f"s-{region.code}", region=region).pk}


SPECS = {
    "predictions:abandonment": UrlSpec("list", seed=_abandonment_sessions),
    "predictions:abandonment_session": UrlSpec("object", make=_abandonment_session),
}
