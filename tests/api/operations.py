"""How the matrix test builds a request for each operation of tests/api/matrix.yaml.

`make(world, region) -> id` creates an object of that region and returns its id (operations with {id}).
`body(world, region) -> dict` is the JSON body of an unsafe request (the region given is region A, so the
body names objects the allowed principals own). `row_region(row) -> str | None` tells the region code of a
row in a list answer, so the test can count foreign rows; `seed(world)` creates rows in both regions first.
`snapshot(world)` returns what a refused write must leave unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.factories import CustomerFactory


@dataclass
class Operation:
    make: Callable | None = None
    body: Callable | None = None
    seed: Callable | None = None
    row_region: Callable | None = None
    snapshot: Callable | None = None
    missing_id: str = "987654321"
    malformed_id: str = "not-an-id"


def _customer(world, region):
    return CustomerFactory(region=region, consent_marketing=True).pk


def _job(world, region):
    from cartportal.jobs import job_create

    return job_create(kind="import_transactions", region=region).pk


def _quarantined_job(world, region):
    from cartportal.models import QuarantinedRow

    job_id = _job(world, region)
    QuarantinedRow.objects.create(job_id=job_id, region=region, line=2, column="price", code="bad", message="x")
    return job_id


def _audit_event(world, region):
    from cartportal.audit import record

    return record(actor="command:test", action="matrix.marker", region_code=region.code).pk


def _seed_customers(world):
    for region in (world.region_a, world.region_b):
        CustomerFactory.create_batch(3, region=region)


def _seed_jobs(world):
    for region in (world.region_a, world.region_b):
        _quarantined_job(world, region)


def _seed_audit(world):
    for region in (world.region_a, world.region_b):
        _audit_event(world, region)


def _region_code(row):
    return row.get("region")


def _consent_snapshot(world):
    from cartportal.models import AuditEvent, Customer

    return (
        sorted(Customer.objects.values_list("pk", "consent_marketing", "consent_personalisation")),
        AuditEvent.objects.filter(action="customer.consent_changed").count(),
    )


def _erasure_snapshot(world):
    from cartportal.models import AuditEvent, Customer

    return (
        sorted(Customer.objects.values_list("pk", "external_id", "erased_at")),
        AuditEvent.objects.filter(action="customer.erased").count(),
    )


def _bulk_body(world, region):
    return {"ids": [_customer(world, region)], "consent_marketing": False}


def _live_cart(world, region):
    return {
        "region": region.code,
        "items": [{"product_id": f"SKU-{i}", "price": 10.0 + i, "quantity": 1} for i in range(3)],
        "shipping_cost": 4.99,
        "device": "mobile",
        "minutes_in_session": 12,
    }


def _live_session(world, region):
    return {
        "region": region.code,
        "administrative_pages": 2,
        "administrative_duration": 40.0,
        "informational_pages": 0,
        "informational_duration": 0.0,
        "product_pages": 12,
        "product_duration": 480.0,
        "bounce_rate": 0.01,
        "exit_rate": 0.03,
        "page_value": 0.0,
        "special_day": 0.0,
        "month": 11,
        "weekend": False,
        "visitor_type": "Returning_Visitor",
    }


def _import_job(world, region):
    from cartportal.jobs import job_create
    from cartportal.models import QuarantinedRow

    job = job_create(kind="import:cart_events", region=region)
    job.started_by = world.partner  # the tokens' user: "started by me" must not widen a token's regions
    job.save(update_fields=["started_by"])
    QuarantinedRow.objects.create(job=job, region=region, line=2, column="timestamp", code="bad_date", message="x")
    return job.pk


def _seed_imports(world):
    for region in (world.region_a, world.region_b):
        _import_job(world, region)


def _import_rows(world, region):
    return {
        "rows": [{"customer_id": f"M{region.code}1", "event": "add", "timestamp": "2025-01-01 10:00:00"}],
        "region": region.code,
    }


def _import_snapshot(world):
    from cartportal.models import CartEvent, Customer

    return CartEvent.objects.count(), Customer.objects.count()


def _profile(region, value_group="loyal"):
    from django.utils import timezone

    from segments.models import CustomerProfile

    customer = CustomerFactory(region=region)
    now = timezone.now()
    return CustomerProfile.objects.create(
        customer=customer,
        region=region,
        built_at=now,
        reference_at=now,
        frequency=3,
        monetary=120,
        value_group=value_group,
    )


def _seed_profiles(world):
    for region in (world.region_a, world.region_b):
        _profile(region)


def _audience(world, region):
    from segments.models import AudienceDefinition

    return AudienceDefinition.objects.create(region=region, name=f"marker-{region.code}", universe="all").pk


def _seed_audiences(world):
    for region in (world.region_a, world.region_b):
        _audience(world, region)


def _audience_body(world, region):
    return {
        "region": region.code,
        "name": "Matrix audience",
        "universe": "all",
        "rules": [{"name": "Repeat", "feature": "frequency", "op": ">=", "value": 2}],
    }


def _audience_snapshot(world):
    from segments.models import AudienceDefinition

    return sorted(AudienceDefinition.objects.values_list("pk", "name"))


# --- Campaigns: each transition's object is a campaign in the state that transition starts from ----------
def _campaign(region, state="draft", name="matrix campaign"):
    from interventions.models import Campaign

    return Campaign.objects.create(
        region=region,
        name=name,
        intervention="reminder",
        state=state,
        audience_kind="at_risk",
        audience_ref={"threshold": 0.5},
    )


def _campaign_in(state):
    return lambda world, region: _campaign(region, state).pk


def _seed_campaigns(world):
    for region in (world.region_a, world.region_b):
        _campaign(region, "pending", name=f"marker-{region.code}")


def _campaign_body(world, region):
    return {"region": region.code, "name": "Matrix campaign", "intervention": "reminder", "holdout_share": 0.2}


def _campaign_snapshot(world):
    from cartportal.models import AuditEvent
    from interventions.models import Campaign

    return (
        sorted(Campaign.objects.values_list("pk", "state", "decided_by")),
        AuditEvent.objects.filter(action__startswith="campaign.").count(),
    )


def _running_with_assignment(world, region):
    from django.utils import timezone

    from interventions.models import Assignment

    campaign = _campaign(region, "running")
    customer = CustomerFactory(region=region, consent_marketing=True)
    Assignment.objects.create(campaign=campaign, customer=customer, arm="treated", assigned_at=timezone.now())
    return campaign.pk


def _outcomes_body(world, region):
    """Outcome of the customer assigned last in a campaign of `region` (the own object's customer)."""
    from interventions.models import Assignment

    latest = Assignment.objects.filter(campaign__region=region).latest("pk")
    return {"outcomes": [{"customer_id": latest.customer_id, "visited": True, "converted": True, "revenue": "25.00"}]}


def _outcomes_snapshot(world):
    from cartportal.models import AuditEvent
    from interventions.models import Assignment

    return (
        sorted(Assignment.objects.values_list("pk", "visited", "converted", "revenue", "outcome_at")),
        AuditEvent.objects.filter(action="campaign.outcomes").count(),
    )


def _kill_switch_body(world, region):
    return {"engaged": False, "reason": "matrix check", "region": region.code}


def _kill_switch_snapshot(world):
    from cartportal.models import AuditEvent
    from interventions.models import KillSwitch

    return (
        sorted(KillSwitch.objects.values_list("pk", "engaged", "reason")),
        AuditEvent.objects.filter(action="interventions.kill_switch").count(),
    )


def _reason(world, region):
    return {"reason": "matrix decision"}


# --- Model versions: global objects; "own" and "foreign" are two versions alike ------------------------
def _model_version(world=None, region=None, *, activate=False, kind="value"):
    from cartportal.access import SystemActor
    from predictions import registry

    actor = SystemActor("command:test")
    version = registry.register_candidate(
        actor=actor,
        kind=kind,
        algorithm="matrix",
        model_object={"w": [1]},
        features=["orders"],
        metrics={
            "top_decile_lift": 2.0,
            "poisson_deviance": 1.0,
            "roc_auc": 0.8,
            "baseline": {"name": "same as last period", "poisson_deviance": 2.0, "roc_auc": 0.5},
        },
        holdout={"fingerprint": "matrix"},
    )
    if activate:
        registry.activate(actor=actor, version=version, reason="matrix set-up")
    return version.pk


def _active_with_previous(world, region):
    """The active version of a kind with an earlier active one to go back to. The "own" and "foreign" objects
    are made one after the other before either is used, so they are of two kinds (or the second would retire
    the first)."""
    kind = "value" if region == world.region_a else "abandonment"
    _model_version(activate=True, kind=kind)
    return _model_version(activate=True, kind=kind)


def _model_snapshot(world):
    from cartportal.models import AuditEvent
    from predictions.models import ModelVersion

    return (
        sorted(ModelVersion.objects.values_list("pk", "status")),
        AuditEvent.objects.filter(action__startswith="model.").count(),
    )


def _campaign_transition(state):
    return Operation(make=_campaign_in(state), body=_reason, snapshot=_campaign_snapshot)


def _seed_offers(world):
    from tests.interventions.scoping import offer

    for region in (world.region_a, world.region_b):
        offer(region, f"offer-{region.code}")


OPERATIONS: dict[str, Operation] = {
    "GET /api/v1/schema/": Operation(),
    "GET /api/v1/docs/": Operation(),
    "GET /api/v1/regions/": Operation(row_region=lambda row: row.get("code")),
    "GET /api/v1/regions/{id}/": Operation(make=lambda world, region: region.pk),
    "GET /api/v1/customers/": Operation(seed=_seed_customers, row_region=_region_code),
    "GET /api/v1/customers/{id}/": Operation(make=_customer),
    "GET /api/v1/customers/{id}/risk/": Operation(make=_customer),
    "POST /api/v1/customers/{id}/consent/": Operation(
        make=_customer, body=lambda world, region: {"consent_marketing": False}, snapshot=_consent_snapshot
    ),
    "POST /api/v1/customers/{id}/erase/": Operation(
        make=_customer, body=lambda world, region: {"reason": "request"}, snapshot=_erasure_snapshot
    ),
    "POST /api/v1/customers/bulk-consent/": Operation(body=_bulk_body, snapshot=_consent_snapshot),
    "POST /api/v1/sessions/score/": Operation(body=_live_session),
    "POST /api/v1/carts/score/": Operation(body=_live_cart),
    "GET /api/v1/jobs/": Operation(seed=_seed_jobs, row_region=_region_code),
    "GET /api/v1/jobs/{id}/": Operation(make=_job),
    "GET /api/v1/imports/": Operation(seed=_seed_imports, row_region=_region_code),
    "GET /api/v1/imports/{job_id}/": Operation(make=_import_job),
    "GET /api/v1/imports/{job_id}/quarantine/": Operation(make=_import_job),
    "GET /api/v1/imports/quality/": Operation(seed=_seed_imports),
    # {kind} is the kind of rows, the same for every region; "missing" and "malformed" are unknown kinds.
    "POST /api/v1/imports/{kind}/": Operation(
        make=lambda world, region: "cart_events",
        body=_import_rows,
        snapshot=_import_snapshot,
        missing_id="no_such_kind",
    ),
    "GET /api/v1/segments/": Operation(),  # sums over the caller's regions: no per-region rows
    "GET /api/v1/segments/members/": Operation(seed=_seed_profiles, row_region=_region_code),
    "GET /api/v1/segments/personas/": Operation(),
    "GET /api/v1/segments/audiences/": Operation(seed=_seed_audiences, row_region=_region_code),
    "POST /api/v1/segments/audiences/": Operation(body=_audience_body, snapshot=_audience_snapshot),
    "GET /api/v1/segments/audiences/{id}/": Operation(make=_audience),
    "DELETE /api/v1/segments/audiences/{id}/": Operation(make=_audience, snapshot=_audience_snapshot),
    "GET /api/v1/promotions/": Operation(seed=_seed_offers, row_region=_region_code),
    "GET /api/v1/simulator/": Operation(),  # without its required parameters: 400 for every reader
    "GET /api/v1/audit-events/": Operation(seed=_seed_audit),
    "GET /api/v1/audit-events/{id}/": Operation(make=_audit_event),
    "GET /api/v1/campaigns/": Operation(seed=_seed_campaigns, row_region=_region_code),
    "POST /api/v1/campaigns/": Operation(body=_campaign_body, snapshot=_campaign_snapshot),
    "GET /api/v1/campaigns/{id}/": Operation(make=_campaign_in("running")),
    "POST /api/v1/campaigns/{id}/submit/": _campaign_transition("draft"),
    "POST /api/v1/campaigns/{id}/approve/": _campaign_transition("pending"),
    "POST /api/v1/campaigns/{id}/reject/": _campaign_transition("pending"),
    "POST /api/v1/campaigns/{id}/start/": _campaign_transition("approved"),
    "POST /api/v1/campaigns/{id}/stop/": _campaign_transition("running"),
    "POST /api/v1/campaigns/{id}/complete/": _campaign_transition("running"),
    "POST /api/v1/campaigns/{id}/outcomes/": Operation(
        make=_running_with_assignment, body=_outcomes_body, snapshot=_outcomes_snapshot
    ),
    "GET /api/v1/campaigns/{id}/assignments/": Operation(make=_running_with_assignment),
    "GET /api/v1/kill-switch/": Operation(),
    "POST /api/v1/kill-switch/": Operation(body=_kill_switch_body, snapshot=_kill_switch_snapshot),
    "GET /api/v1/model-versions/": Operation(seed=lambda world: _model_version()),
    "GET /api/v1/model-versions/{id}/": Operation(make=_model_version),
    "POST /api/v1/model-versions/{id}/activate/": Operation(
        make=_model_version, body=_reason, snapshot=_model_snapshot
    ),
    "POST /api/v1/model-versions/{id}/rollback/": Operation(make=_active_with_previous, snapshot=_model_snapshot),
}
