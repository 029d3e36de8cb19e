from tests.factories import CustomerFactory
from tests.scoping import UrlSpec


def _jobs(world):
    from cartportal.jobs import job_create

    job_create(kind="marker-own-job", region=world.region_a)
    job_create(kind="marker-foreign-job", region=world.region_b)
    return "marker-own-job", "marker-foreign-job"


def _job(world, region):
    from cartportal.jobs import job_create

    return {"job_id": job_create(kind="import", region=region).pk}


def _home(world):
    """A manager's home lists the campaigns waiting for them: their region's, never another's."""
    from interventions.models import Campaign

    CustomerFactory(region=world.region_a)
    for region, marker in ((world.region_a, "marker-own-campaign"), (world.region_b, "marker-foreign-campaign")):
        Campaign.objects.create(region=region, name=marker, intervention="reminder", state="pending")
    return "marker-own-campaign", "marker-foreign-campaign"


def _audit(world):
    from cartportal.audit import record

    record(actor="command:test", action="marker.audit", region_code=world.region_a.code)
    return "marker.audit", None


SPECS = {
    "login": UrlSpec("public"),
    "logout": UrlSpec("public"),
    "healthz": UrlSpec("public"),
    "portal:home": UrlSpec("list", seed=_home),
    "portal:preferences": UrlSpec("global"),
    "portal:jobs": UrlSpec("list", seed=_jobs, query="who=all"),
    "portal:job": UrlSpec("object", make=_job, missing={"job_id": 987654321}),
    "portal:audit": UrlSpec("list", seed=_audit, roles={"Compliance"}, denied_status=200),
}
