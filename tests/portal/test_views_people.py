"""People are shown by username (and full name where set), never as `user:7`; the audit filters take what a
person types: a username, a short object reference."""

import csv
import io

import pytest
from django.urls import reverse

from cartportal.audit import record
from cartportal.jobs import job_create

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def trail(world):
    world.manager_a.first_name, world.manager_a.last_name = "Maria", "Schmidt"
    world.manager_a.save()
    actor = f"user:{world.manager_a.pk}"
    record(actor=actor, action="campaign.approve", object_type="interventions.campaign", object_id=1, reason="ok")
    record(
        actor=f"user:{world.manager_b.pk}", action="campaign.approve", object_type="interventions.campaign", object_id=2
    )
    record(actor="task:rescore", action="scores.published", object_type="predictions.modelversion", object_id=1)
    return world


def test_audit_viewer_shows_usernames_and_full_names(client, trail):
    client.force_login(trail.compliance)
    body = client.get(reverse("portal:audit")).content.decode()
    assert "manager_north (Maria Schmidt)" in body and "manager_south" in body
    assert f">user:{trail.manager_a.pk}<" not in body
    rows = _csv(client.get(reverse("portal:audit"), {"format": "csv", "action": "campaign."}))
    assert {r["actor_name"] for r in rows} == {"manager_north (Maria Schmidt)", "manager_south"}
    assert {r["actor"] for r in rows} == {f"user:{trail.manager_a.pk}", f"user:{trail.manager_b.pk}"}


def test_actor_filter_accepts_a_username(client, trail):
    client.force_login(trail.compliance)
    rows = _csv(client.get(reverse("portal:audit"), {"format": "csv", "actor": "Manager_North"}))
    assert [r["object_id"] for r in rows] == ["1"]
    rows = _csv(client.get(reverse("portal:audit"), {"format": "csv", "actor": "task:"}))
    assert [r["action"] for r in rows] == ["scores.published"]
    assert _csv(client.get(reverse("portal:audit"), {"format": "csv", "actor": "nobody_by_that_name"})) == []


def test_object_filter_accepts_a_short_reference(client, trail):
    client.force_login(trail.compliance)
    rows = _csv(client.get(reverse("portal:audit"), {"format": "csv", "object": "campaign:1"}))
    assert [(r["object_type"], r["object_id"]) for r in rows] == [("interventions.campaign", "1")]
    rows = _csv(client.get(reverse("portal:audit"), {"format": "csv", "object": "interventions.campaign:2"}))
    assert [r["object_id"] for r in rows] == ["2"]
    assert len(_csv(client.get(reverse("portal:audit"), {"format": "csv", "object": "campaign"}))) == 2


def test_jobs_name_who_started_them(client, trail):
    job = job_create(kind="retrain", actor=trail.manager_a, region=trail.region_a)
    client.force_login(trail.manager_a)
    assert "manager_north (Maria Schmidt)" in client.get(reverse("portal:jobs")).content.decode()
    assert "manager_north (Maria Schmidt)" in client.get(reverse("portal:job", args=[job.pk])).content.decode()
