"""Property-based requests generated from the OpenAPI schema (schemathesis) against the real app and
database, authenticated as a read+write partner token: 0 server errors and 0 responses that break the schema.

Examples per operation are limited (SCHEMATHESIS_MAX_EXAMPLES, default 12) so the run stays short; raise it
for a longer fuzzing session."""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import CustomerFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))


def _load_schema():
    from django.core.wsgi import get_wsgi_application
    from drf_spectacular.generators import SchemaGenerator

    raw = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder))
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    return schema


def _seed(world):
    from cartportal.audit import record
    from cartportal.jobs import job_create
    from cartportal.models import QuarantinedRow

    for region in (world.region_a, world.region_b):
        CustomerFactory.create_batch(3, region=region)
        job = job_create(kind="import_transactions", region=region)
        QuarantinedRow.objects.create(job=job, region=region, line=3, column="qty", code="not_a_number", message="x")
        record(actor="command:test", action="fuzz.seed", region_code=region.code)
        _seed_campaign(region)
    _seed_model_versions()


def _seed_campaign(region):
    """A running campaign with outcomes in both arms, so lists and details carry arms and a measured lift."""
    from django.utils import timezone

    from interventions.models import Assignment, Campaign

    campaign = Campaign.objects.create(region=region, name="fuzz", intervention="reminder", state="running")
    now = timezone.now()
    Assignment.objects.bulk_create(
        Assignment(
            campaign=campaign,
            customer=CustomerFactory(region=region),
            arm=arm,
            holdout=arm == "holdout",
            assigned_at=now,
            visited=True,
            converted=i % 2 == 0,
            revenue=10 * i,
            outcome_at=now,
        )
        for i, arm in enumerate(["treated", "treated", "treated", "holdout", "holdout"])
    )


def _seed_model_versions():
    from cartportal.access import SystemActor
    from predictions import registry

    actor = SystemActor("command:test")
    for lift in (1.5, 2.5):
        version = registry.register_candidate(
            actor=actor,
            kind="value",
            algorithm="fuzz",
            model_object={"w": [lift]},
            features=["orders"],
            metrics={
                "top_decile_lift": lift,
                "poisson_deviance": 4.0 - lift,
                "roc_auc": 0.8,
                "baseline": {"name": "same as last period", "poisson_deviance": 2.0, "roc_auc": 0.5},
            },
            holdout={"fingerprint": "fuzz"},
        )
        registry.promote_if_better(actor=actor, version=version, metric="poisson_deviance", higher_is_better=False)


def _documented_unavailable(response) -> bool:
    """Live scoring before any abandonment model is active answers a documented 503 in the error shape; that is
    the one 5xx the API may give on purpose. Every other 5xx is a server error."""
    if response.status_code != 503:
        return False
    try:
        return response.json()["error"]["code"] == "unavailable"
    except (ValueError, KeyError, TypeError):
        return False


STATUSES: dict[int, int] = {}


def _fuzz_operation(operation, headers) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(headers=headers)
        STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
        if response.status_code >= 500 and not _documented_unavailable(response):
            failures.append(f"{operation.label}: server error {response.status_code} for {case.as_curl_command()}")
            return
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except (Exception, BaseExceptionGroup) as exc:  # collect every failing operation, not just the first
            failures.append(f"{operation.label}: {response.status_code} {type(exc).__name__}: {str(exc)[:400]}")

    run()
    return failures


@pytest.mark.django_db(transaction=False)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "user": "100000/min", "anon": "100000/min"},
    }
    settings.ALLOWED_HOSTS = ["*"]
    _seed(world)
    headers = {"Authorization": f"Token {world.partner_token_key}"}
    # The app runs in-process through WSGI; like Django's test client, keep the test's connection open.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        failures, operations = _fuzz_all(headers)
        failures += _seeded_details_conform(headers)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert operations >= 15
    # The token worked and the generated requests reached the endpoints (not only auth errors).
    assert STATUSES.get(200, 0) >= operations and STATUSES.get(401, 0) == 0, STATUSES
    assert failures == [], f"{len(failures)} failing examples:\n" + "\n".join(failures[:30])


def _fuzz_all(headers):
    failures: list[str] = []
    operations = 0
    for result in _load_schema().get_all_operations():
        operation = result.ok()
        operations += 1
        failures += _fuzz_operation(operation, headers)
    return failures, operations


def _seeded_details_conform(headers) -> list[str]:
    """Generated ids rarely hit a stored row: the seeded campaign (with arms and a measured lift) and model
    version are checked against the schema explicitly."""
    from interventions.models import Campaign
    from predictions.models import ModelVersion

    schema = _load_schema()
    campaign = Campaign.objects.filter(name="fuzz", region__code="NORTH").get()
    checks = [
        ("/api/v1/campaigns/", {}),
        ("/api/v1/campaigns/{id}/", {"id": campaign.pk}),
        ("/api/v1/model-versions/", {}),
        ("/api/v1/model-versions/{id}/", {"id": ModelVersion.objects.get(status="active").pk}),
    ]
    failures = []
    for path, parameters in checks:
        case = schema[path]["GET"].Case(path_parameters=parameters)
        response = case.call(headers=headers)
        if response.status_code != 200:
            failures.append(f"GET {path} {parameters}: {response.status_code}")
            continue
        if path == "/api/v1/campaigns/{id}/" and not response.json()["lift"]["ready"]:
            failures.append("the seeded campaign has no measured lift")
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"GET {path}: {type(exc).__name__}: {str(exc)[:400]}")
    return failures
