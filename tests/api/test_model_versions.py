"""Model versions through the API: the registry's fields and filters for every role, and activation and rollback
for analysts only, through predictions.services (audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from cartportal.access import SystemActor
from cartportal.models import AuditEvent
from predictions import registry
from predictions.models import ModelVersion

pytestmark = pytest.mark.django_db
ACTOR = SystemActor("command:test")


def _version(kind="value", lift=2.0, *, activate=False):
    start = timezone.make_aware(dt.datetime(2025, 1, 1))
    version = registry.register_candidate(
        actor=ACTOR,
        kind=kind,
        algorithm="gradient-boosting",
        model_object={"weights": [1, 2]},
        features=["orders", "recency_days"],
        metrics={
            "top_decile_lift": lift,
            "auc": 0.71,
            "poisson_deviance": 1.0,
            "roc_auc": 0.8,
            "baseline": {"name": "same as last period", "poisson_deviance": 2.0, "roc_auc": 0.5},
        },
        holdout={"fingerprint": "h1", "rows": 500},
        window_start=start,
        window_end=start + dt.timedelta(days=365),
    )
    if activate:
        registry.activate(actor=ACTOR, version=version, reason="set-up")
    return ModelVersion.objects.get(pk=version.pk)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client, url, body=None):
    return client.post(url, data=body or {}, content_type="application/json")


def test_every_role_and_a_read_token_read_the_registry_with_its_fields(world):
    old = _version(lift=1.5, activate=True)
    new = _version(lift=2.5, activate=True)
    abandonment = _version(kind="abandonment")
    token = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")

    body = token.get(f"/api/v1/model-versions/{new.pk}/").json()
    assert body["version"] == new.pk and body["kind"] == "value" and body["active"] is True
    assert body["window_start"].startswith("2025-01-01") and body["window_end"].startswith("2026-01-01")
    assert body["features"] == ["orders", "recency_days"]
    assert body["metrics"]["top_decile_lift"] == 2.5 and body["metrics"]["auc"] == 0.71
    assert body["metrics"]["baseline"] == {"name": "same as last period", "poisson_deviance": 2.0, "roc_auc": 0.5}
    assert body["refusal_reason"] == ""
    assert body["checksum"] == new.checksum and len(body["checksum"]) == 64
    assert "artifact" not in body

    listed = _client(world.manager_b).get("/api/v1/model-versions/").json()
    assert sorted(r["id"] for r in listed["results"]) == sorted([old.pk, new.pk, abandonment.pk])
    active = token.get("/api/v1/model-versions/", {"active": "true"}).json()["results"]
    assert [r["id"] for r in active] == [new.pk]
    inactive = token.get("/api/v1/model-versions/", {"active": "false", "kind": "value"}).json()["results"]
    assert [(r["id"], r["status"]) for r in inactive] == [(old.pk, "retired")]
    assert [r["id"] for r in token.get("/api/v1/model-versions/", {"kind": "abandonment"}).json()["results"]] == [
        abandonment.pk
    ]
    assert token.get("/api/v1/model-versions/", {"kind": "horoscope"}).status_code == 400
    assert _client(world.model_perm_only).get("/api/v1/model-versions/").status_code == 403


def test_only_analysts_activate_and_the_change_is_audited(world):
    active = _version(activate=True)
    candidate = _version(lift=0.5)  # worse: never promoted automatically, but an analyst may decide so
    url = f"/api/v1/model-versions/{candidate.pk}/activate/"
    for user in (world.manager_a, world.executive, world.compliance):
        assert _post(_client(user), url, {"reason": "no"}).status_code == 403
    token = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    assert _post(token, url, {"reason": "no"}).status_code == 403
    assert ModelVersion.objects.get(pk=candidate.pk).status == "candidate"

    response = _post(_client(world.analyst_a), url, {"reason": "new features are worth it"})
    assert response.status_code == 200 and response.json()["active"] is True
    assert ModelVersion.objects.get(pk=active.pk).status == "retired"
    row = AuditEvent.objects.get(action="model.activated_manually", object_id=str(candidate.pk))
    assert row.reason == "new features are worth it" and row.before == {"active": active.pk}

    again = _post(_client(world.analyst_a), url, {"reason": "twice"})
    assert again.status_code == 409 and again.json()["error"]["message"] == "This version is already active."


def test_rollback_restores_the_previous_active_version(world):
    first = _version(activate=True)
    second = _version(activate=True)
    analyst = _client(world.analyst_a)

    not_active = _post(analyst, f"/api/v1/model-versions/{first.pk}/rollback/")
    assert not_active.status_code == 409 and "not the active" in not_active.json()["error"]["message"]
    assert _post(_client(world.manager_a), f"/api/v1/model-versions/{second.pk}/rollback/").status_code == 403

    response = _post(analyst, f"/api/v1/model-versions/{second.pk}/rollback/")
    assert response.status_code == 200 and response.json()["id"] == first.pk
    statuses = dict(ModelVersion.objects.filter(kind="value").values_list("pk", "status"))
    assert statuses == {first.pk: "active", second.pk: "retired"}
    assert AuditEvent.objects.filter(action="model.rolled_back", object_id=str(first.pk)).count() == 1

    lonely = _version(kind="abandonment", activate=True)
    nothing_before = _post(analyst, f"/api/v1/model-versions/{lonely.pk}/rollback/")
    assert nothing_before.status_code == 409 and "no earlier" in nothing_before.json()["error"]["message"]


def test_a_version_worse_than_its_baseline_shows_why_and_cannot_be_activated(world):
    from predictions import registry

    version = registry.register_candidate(
        actor=ACTOR,
        kind="value",
        algorithm="bgnbd_gamma_gamma",
        model_object={"weights": [1]},
        features=["purchase_days"],
        metrics={"poisson_deviance": 2.4, "baseline": {"name": "same as last period", "poisson_deviance": 2.0}},
        holdout={"fingerprint": "h9"},
    )
    assert not registry.promote_if_better(
        actor=ACTOR, version=version, metric="poisson_deviance", higher_is_better=False
    )
    body = _client(world.analyst_a).get(f"/api/v1/model-versions/{version.pk}/").json()
    assert body["status"] == "candidate"
    assert body["refusal_reason"] == (
        "poisson_deviance 2.4 does not beat the baseline (same as last period: 2) on the same holdout"
    )
    response = _post(_client(world.analyst_a), f"/api/v1/model-versions/{version.pk}/activate/", {"reason": "try"})
    assert response.status_code == 409 and "does not beat the baseline" in response.json()["error"]["message"]
    assert ModelVersion.objects.get(pk=version.pk).status == "candidate"
