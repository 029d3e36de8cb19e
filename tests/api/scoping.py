"""Scoping descriptions of the API's own URLs (the authorization matrix in matrix.yaml goes further)."""

from tests.factories import CustomerFactory
from tests.scoping import UrlSpec

NOBODY = {"no role reads this URL with GET"}


def _customers(world):
    CustomerFactory(region=world.region_a, external_id="marker-own-customer")
    CustomerFactory(region=world.region_b, external_id="marker-foreign-customer")
    return "marker-own-customer", "marker-foreign-customer"


def _customer(world, region):
    return {"pk": CustomerFactory(region=region).pk}


def _regions(world):
    return world.region_a.code, world.region_b.code


def _region(world, region):
    return {"pk": region.pk}


def _jobs(world):
    from cartportal.jobs import job_create

    job_create(kind="import-marker-own", region=world.region_a)
    job_create(kind="import-marker-foreign", region=world.region_b)
    return "import-marker-own", "import-marker-foreign"


def _job(world, region):
    from cartportal.jobs import job_create

    return {"pk": job_create(kind="import", region=region).pk}


def _audit_event(world, region):
    from cartportal.audit import record

    return {"pk": record(actor="command:test", action="marker.audit", region_code=region.code).pk}


def _audit(world):
    from cartportal.audit import record

    record(actor="command:test", action="marker.audit", region_code=world.region_a.code)
    return "marker.audit", None


def _consent_post(world, region):
    from cartportal.models import Customer

    customer = CustomerFactory(region=region, consent_marketing=True)
    return (
        {"pk": customer.pk},
        {"consent_marketing": "false"},
        lambda: Customer.objects.filter(pk=customer.pk).values_list("consent_marketing", flat=True)[0],
    )


def _bulk_post(world, region):
    from cartportal.models import Customer

    customer = CustomerFactory(region=region, consent_marketing=True)
    return (
        {},
        {"ids": [customer.pk], "consent_marketing": "false"},
        lambda: Customer.objects.filter(pk=customer.pk).values_list("consent_marketing", flat=True)[0],
    )


SPECS = {
    "api-schema": UrlSpec("global"),
    "api-docs": UrlSpec("global", api=False),
    "api-regions-list": UrlSpec("list", seed=_regions),
    "api-regions-detail": UrlSpec("object", make=_region),
    "api-customers-list": UrlSpec("list", seed=_customers),
    "api-customers-detail": UrlSpec("object", make=_customer),
    "api-customers-risk": UrlSpec("object", make=_customer),
    "api-customers-consent": UrlSpec("list", make=_customer, roles=NOBODY, denied_status=405, post=_consent_post),
    "api-customers-bulk-consent": UrlSpec("list", roles=NOBODY, denied_status=405, post=_bulk_post),
    "api-session-score": UrlSpec("list", roles=NOBODY, denied_status=405),
    "api-jobs-list": UrlSpec("list", seed=_jobs),
    "api-jobs-detail": UrlSpec("object", make=_job),
    "api-audit-events-list": UrlSpec("list", seed=_audit, roles={"Compliance"}, denied_status=403),
    "api-audit-events-detail": UrlSpec("object", make=_audit_event, roles={"Compliance"}, denied_status=404),
}
