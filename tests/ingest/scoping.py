from cartportal.jobs import job_create
from cartportal.models import CartEvent, Customer
from tests.factories import CustomerFactory
from tests.scoping import UrlSpec


def _jobs(world):
    job_create(kind="import:own-marker", region=world.region_a)
    job_create(kind="import:foreign-marker", region=world.region_b)
    return "import:own-marker", "import:foreign-marker"


def _job(world, region):
    return {"job_id": job_create(kind="import:cart_events", region=region).pk}


def _regions(world):
    CustomerFactory(region=world.region_a)
    CustomerFactory(region=world.region_b)
    return world.region_a.name, world.region_b.name


def _batch_into_foreign_region(world, region):
    def snapshot():
        return CartEvent.objects.count(), Customer.objects.count()

    data = {"rows": [{"customer_id": "X1", "event": "add", "timestamp": "2025-01-01 10:00:00"}], "region": region.code}
    return {"kind": "cart_events"}, data, snapshot


MISSING = {"job_id": 987654321}
SPECS = {
    "ingest:imports": UrlSpec("list", seed=_jobs),
    "ingest:import": UrlSpec("object", make=_job, missing=MISSING),
    "ingest:quality": UrlSpec("list", seed=_regions),
    "api-imports": UrlSpec("list", seed=_jobs),
    "api-import": UrlSpec("object", make=_job, missing=MISSING),
    "api-import-quarantine": UrlSpec("object", make=_job, missing=MISSING),
    "api-import-quality": UrlSpec("list", seed=_regions),
    "api-import-batch": UrlSpec(
        "list",
        make=lambda world, region: {"kind": "cart_events"},
        get_status=405,
        post=_batch_into_foreign_region,
        post_denied=(400, 403, 404),
    ),
}
