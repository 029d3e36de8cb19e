"""Audience rules are finite numbers and bounded in count (refused with a 400 or a form error, nothing stored),
audiences can be deleted (page button and API, audited, foreign ones answer 404), and an audience stored with a
bad rule no longer breaks its region's rebuild on the worker."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from cartportal.models import AuditEvent, JobRun
from segments.models import AudienceDefinition
from tests.factories import CustomerFactory

GOOD_RULE = {"name": "Repeat", "feature": "frequency", "op": ">=", "value": 2}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post_audience(client, region, rules):
    body = {"region": region.code, "name": "Probe", "universe": "all", "rules": rules}
    return client.post("/api/v1/segments/audiences/", body, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity"])
def test_a_non_finite_rule_value_is_a_400_and_nothing_is_stored(world, value):
    response = _post_audience(_client(world.manager_a), world.region_a, [{**GOOD_RULE, "value": value}])

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and "finite" in error["message"]
    assert not AudienceDefinition.objects.exists()


@pytest.mark.django_db
def test_a_nan_rule_on_the_page_is_a_form_error_and_nothing_is_stored(world):
    client = _client(world.manager_a)
    data = {
        "region": world.region_a.code,
        "name": "Probe",
        "universe": "all",
        "rules": '[{"name": "x", "feature": "frequency", "op": ">=", "value": NaN}]',
    }
    response = client.post(reverse("segments:audiences"), data, follow=True)

    assert response.status_code == 200
    assert "finite" in response.content.decode()
    assert not AudienceDefinition.objects.exists()


@pytest.mark.django_db
def test_the_number_of_rules_is_bounded_by_a_setting(world, settings):
    settings.CARTPORTAL_AUDIENCE_MAX_RULES = 3
    rules = [{**GOOD_RULE, "name": f"r{i}", "value": i} for i in range(4)]
    client = _client(world.manager_a)

    refused = _post_audience(client, world.region_a, rules)
    assert refused.status_code == 400 and "at most 3 rules" in refused.json()["error"]["message"]
    assert not AudienceDefinition.objects.exists()
    assert _post_audience(client, world.region_a, rules[:3]).status_code == 201


@pytest.mark.django_db
def test_an_audience_is_deleted_through_the_api_with_an_audit_row(world):
    client = _client(world.manager_a)
    own = _post_audience(client, world.region_a, [GOOD_RULE]).json()["id"]
    foreign = _post_audience(_client(world.manager_b), world.region_b, [GOOD_RULE]).json()["id"]

    assert client.delete(f"/api/v1/segments/audiences/{foreign}/").status_code == 404
    assert AudienceDefinition.objects.filter(pk=foreign).exists()
    assert client.delete(f"/api/v1/segments/audiences/{own}/").status_code == 204
    assert not AudienceDefinition.objects.filter(pk=own).exists()
    assert client.get(f"/api/v1/segments/audiences/{own}/").status_code == 404
    deleted = AuditEvent.objects.get(action="segments.audience_deleted")
    assert (deleted.object_id, deleted.region_code, deleted.before["name"]) == (str(own), "NORTH", "Probe")
    denied = AuditEvent.objects.get(action="access.denied", object_id=str(foreign))
    assert denied.region_code == "SOUTH"
    # an executive sees every audience but changes none
    exec_client = _client(world.executive)
    assert exec_client.get(f"/api/v1/segments/audiences/{foreign}/").status_code == 200
    assert exec_client.delete(f"/api/v1/segments/audiences/{foreign}/").status_code == 404
    assert AudienceDefinition.objects.filter(pk=foreign).exists()


@pytest.mark.django_db
def test_an_audience_is_deleted_from_its_page(world):
    client = _client(world.manager_a)
    own = _post_audience(client, world.region_a, [GOOD_RULE]).json()["id"]
    page = client.get(reverse("segments:audience", kwargs={"pk": own})).content.decode()
    assert "Delete audience" in page
    assert (
        "Delete audience"
        not in _client(world.executive).get(reverse("segments:audience", kwargs={"pk": own})).content.decode()
    )

    response = client.post(reverse("segments:audience", kwargs={"pk": own}), {"action": "delete"})
    assert response.status_code == 302 and response["Location"] == reverse("segments:audiences")
    assert not AudienceDefinition.objects.filter(pk=own).exists()
    assert AuditEvent.objects.filter(action="segments.audience_deleted", object_id=str(own)).count() == 1


def _wait_for(job_id: int, timeout: float = 120) -> JobRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = JobRun.objects.get(pk=job_id)
        if job.state in ("succeeded", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not end")


@pytest.mark.django_db(transaction=True)
def test_a_stored_bad_audience_does_not_break_the_regions_rebuild(world, celery_worker_process):
    CustomerFactory.create_batch(5, region=world.region_a)
    bad_rule = {**GOOD_RULE, "name": "Bad", "value": "nan"}  # as stored before rule values were checked
    bad = AudienceDefinition.objects.create(region=world.region_a, name="bad", universe="all", rules=[bad_rule])
    good = AudienceDefinition.objects.create(region=world.region_a, name="good", universe="all", rules=[GOOD_RULE])

    _client(world.manager_a).post(reverse("segments:rebuild"))
    job = _wait_for(JobRun.objects.get(kind="segments.rebuild").pk)

    assert job.state == "succeeded", job.error
    assert job.counts["audiences"] == 1
    good.refresh_from_db()
    bad.refresh_from_db()
    assert "error" not in good.result and good.evaluated_at is not None and "segments" in good.result
    assert "finite" in bad.result["error"]
    failed = AuditEvent.objects.get(action="segments.audience_failed")
    assert (failed.object_id, failed.region_code) == (str(bad.pk), "NORTH")
