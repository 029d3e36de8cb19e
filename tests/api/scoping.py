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


def _erase_post(world, region):
    from cartportal.models import Customer

    customer = CustomerFactory(region=region, name="Ada Lovelace")
    return (
        {"pk": customer.pk},
        {"reason": "request"},
        lambda: Customer.objects.filter(pk=customer.pk).values_list("name", "erased_at")[0],
    )


def _bulk_post(world, region):
    from cartportal.models import Customer

    customer = CustomerFactory(region=region, consent_marketing=True)
    return (
        {},
        {"ids": [customer.pk], "consent_marketing": "false"},
        lambda: Customer.objects.filter(pk=customer.pk).values_list("consent_marketing", flat=True)[0],
    )


def _campaign(region, state="pending", name="campaign"):
    from interventions.models import Campaign

    return Campaign.objects.create(region=region, name=name, intervention="reminder", state=state)


def _campaigns(world):
    _campaign(world.region_a, name="marker-own-campaign")
    _campaign(world.region_b, name="marker-foreign-campaign")
    return "marker-own-campaign", "marker-foreign-campaign"


def _campaign_kwargs(world, region):
    return {"pk": _campaign(region).pk}


def _campaign_snapshot(pk):
    from cartportal.models import AuditEvent
    from interventions.models import Campaign

    def snapshot():
        campaign = Campaign.objects.get(pk=pk)
        return campaign.state, campaign.decided_by, AuditEvent.objects.filter(action__startswith="campaign.").count()

    return snapshot


def _campaign_post(state):
    def post(world, region):
        campaign = _campaign(region, state)
        return {"pk": campaign.pk}, {"reason": "scoping check"}, _campaign_snapshot(campaign.pk)

    return post


def _create_campaign_post(world, region):
    from interventions.models import Campaign

    body = {"region": region.code, "name": "foreign draft", "intervention": "reminder"}
    return {}, body, lambda: sorted(Campaign.objects.values_list("pk", flat=True))


def _outcomes_post(world, region):
    from django.utils import timezone

    from interventions.models import Assignment

    campaign = _campaign(region, "running")
    customer = CustomerFactory(region=region)
    Assignment.objects.create(campaign=campaign, customer=customer, arm="treated", assigned_at=timezone.now())
    body = {"outcomes": [{"customer_id": customer.pk, "converted": True}]}
    return {"pk": campaign.pk}, body, lambda: sorted(Assignment.objects.values_list("pk", "converted", "outcome_at"))


def _model_version(world=None, region=None):
    from cartportal.access import SystemActor
    from predictions import registry

    version = registry.register_candidate(
        actor=SystemActor("command:test"),
        kind="value",
        algorithm="marker-algorithm",
        model_object={"w": [1]},
        features=["orders"],
        metrics={
            "top_decile_lift": 2.0,
            "poisson_deviance": 1.0,
            "roc_auc": 0.8,
            "baseline": {"name": "same as last period", "poisson_deviance": 2.0, "roc_auc": 0.5},
        },
        holdout={"fingerprint": "scoping"},
    )
    return {"pk": version.pk}


def _model_post(world, region):
    from predictions.models import ModelVersion

    kwargs = _model_version()
    return kwargs, {"reason": "not an analyst"}, lambda: sorted(ModelVersion.objects.values_list("pk", "status"))


SPECS = {
    "api-schema": UrlSpec("global"),
    "api-docs": UrlSpec("global", api=False),
    "api-regions-list": UrlSpec("list", seed=_regions),
    "api-regions-detail": UrlSpec("object", make=_region),
    "api-customers-list": UrlSpec("list", seed=_customers),
    "api-customers-detail": UrlSpec("object", make=_customer),
    "api-customers-risk": UrlSpec("object", make=_customer),
    "api-customers-consent": UrlSpec("list", make=_customer, roles=NOBODY, denied_status=405, post=_consent_post),
    "api-customers-erase": UrlSpec("list", make=_customer, roles=NOBODY, denied_status=405, post=_erase_post),
    "api-customers-bulk-consent": UrlSpec("list", roles=NOBODY, denied_status=405, post=_bulk_post),
    "api-session-score": UrlSpec("list", roles=NOBODY, denied_status=405),
    "api-cart-score": UrlSpec("list", roles=NOBODY, denied_status=405),
    "api-jobs-list": UrlSpec("list", seed=_jobs),
    "api-jobs-detail": UrlSpec("object", make=_job),
    "api-audit-events-list": UrlSpec("list", seed=_audit, roles={"Compliance"}, denied_status=403),
    "api-audit-events-detail": UrlSpec("object", make=_audit_event, roles={"Compliance"}, denied_status=404),
    "api-campaigns-list": UrlSpec("list", seed=_campaigns, post=_create_campaign_post),
    "api-campaigns-detail": UrlSpec("object", make=_campaign_kwargs),
    **{
        f"api-campaigns-{verb}": UrlSpec(
            "list", make=_campaign_kwargs, roles=NOBODY, denied_status=405, post=_campaign_post(state)
        )
        for verb, state in [
            ("submit", "draft"),
            ("approve", "pending"),
            ("reject", "pending"),
            ("start", "approved"),
            ("stop", "running"),
            ("complete", "running"),
        ]
    },
    "api-campaigns-outcomes": UrlSpec(
        "list", make=_campaign_kwargs, roles=NOBODY, denied_status=405, post=_outcomes_post
    ),
    # Model versions are global: every role reads them; the manager of region A may not activate one.
    "api-model-versions-list": UrlSpec("global"),
    "api-model-versions-detail": UrlSpec("global", make=_model_version),
    "api-model-versions-activate": UrlSpec(
        "list", make=_model_version, roles=NOBODY, denied_status=405, post=_model_post
    ),
    "api-model-versions-rollback": UrlSpec(
        "list", make=_model_version, roles=NOBODY, denied_status=405, post=_model_post
    ),
}
