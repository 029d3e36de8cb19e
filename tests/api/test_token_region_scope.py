"""A token bound to fewer regions than its user reads only those regions: import jobs, their quarantine and the
audit trail included ("started by me" never widens a scope), and a portal user who lost a region no longer reads
their old imports of it. Refused lookups are audited with the region of the object."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cartportal import access
from cartportal.audit import record
from cartportal.jobs import job_create
from cartportal.models import AuditEvent, PartnerToken, QuarantinedRow
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _token_client(user, regions, scopes=("read",)) -> Client:
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name=f"narrow-{len(regions)}",
        user=user,
        scopes=list(scopes),
        key_prefix=key[:10],
        key_hash=PartnerToken.hash_key(key),
    )
    token.regions.set(regions)
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


def _import(user, region, *, raw="Jane Doe,jane@example.com") -> int:
    job = job_create(kind="import:customers", region=region, actor=user)
    QuarantinedRow.objects.create(
        job=job, region=region, line=2, column="email", code="bad_choice", message="x", raw=raw
    )
    return job.pk


def _rows(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) and "results" in data else data


@pytest.fixture
def wide_partner(world):
    """A partner of both regions, whose tokens are bound to region A or to none."""
    access.grant_region(world.partner, world.region_b, access.PARTNER)
    return world.partner


def test_a_token_bound_to_a_does_not_read_its_users_import_of_b(world, wide_partner):
    own, foreign = _import(wide_partner, world.region_a), _import(wide_partner, world.region_b)
    client = _token_client(wide_partner, [world.region_a])

    listed = {row["id"] for row in _rows(client.get("/api/v1/imports/"))}
    assert listed == {own}
    assert client.get(f"/api/v1/imports/{foreign}/").status_code == 404
    assert client.get(f"/api/v1/imports/{foreign}/quarantine/").status_code == 404
    assert client.get(f"/api/v1/imports/{own}/quarantine/").status_code == 200
    denied = AuditEvent.objects.filter(action="access.denied", object_type="import job", object_id=str(foreign))
    assert list(denied.values_list("region_code", flat=True)) == ["SOUTH", "SOUTH"]


def test_a_token_bound_to_no_region_reads_no_import_and_no_quarantine(world, wide_partner):
    jobs = [_import(wide_partner, world.region_a), _import(wide_partner, None)]
    client = _token_client(wide_partner, [])

    assert _rows(client.get("/api/v1/imports/")) == []
    for job_id in jobs:
        assert client.get(f"/api/v1/imports/{job_id}/").status_code == 404
        assert client.get(f"/api/v1/imports/{job_id}/quarantine/").status_code == 404


def test_a_region_less_import_shows_its_starter_only_the_rows_of_regions_in_scope(world, wide_partner):
    job_id = _import(wide_partner, None, raw="row of no region")
    job = QuarantinedRow.objects.get(job_id=job_id).job
    for region, raw in ((world.region_a, "north row"), (world.region_b, "south row")):
        QuarantinedRow.objects.create(
            job=job, region=region, line=3, column="x", code="bad_choice", message="x", raw=raw
        )
    client = _token_client(wide_partner, [world.region_a])

    raws = sorted(row["raw"] for row in _rows(client.get(f"/api/v1/imports/{job_id}/quarantine/")))
    assert raws == ["north row", "row of no region"]
    detail = client.get(f"/api/v1/imports/{job_id}/").json()
    assert [e["line"] for e in detail["quality"]["validity"]["examples"]] == [2, 3]  # the south row is not shown
    other = UserFactory(username="other_partner", roles=[access.PARTNER])
    access.grant_region(other, world.region_a, access.PARTNER)
    assert _token_client(other, [world.region_a]).get(f"/api/v1/imports/{job_id}/").status_code == 404


def test_a_portal_user_who_lost_a_region_no_longer_reads_their_imports_of_it(world):
    access.grant_region(world.manager_a, world.region_b, access.REGIONAL_MANAGER)
    job_id = _import(world.manager_a, world.region_b, raw="Sud,secret@example.com")
    access.revoke_region(world.manager_a, world.region_b)
    client = Client()
    client.force_login(world.manager_a)

    detail = client.get(reverse("ingest:import", kwargs={"job_id": job_id}))
    assert detail.status_code == 404
    listing = client.get(reverse("ingest:imports"), {"format": "csv"})
    text = b"".join(listing.streaming_content).decode()
    assert str(job_id) not in {line.split(",")[0] for line in text.splitlines()[1:]}
    assert client.get(f"/api/v1/imports/{job_id}/quarantine/").status_code == 404


def test_a_compliance_token_bound_to_a_reads_only_region_a_audit_rows(world):
    for code in ("NORTH", "SOUTH", ""):
        record(actor="command:test", action="scope.marker", region_code=code)
    narrow = _token_client(world.compliance, [world.region_a])

    rows = _rows(narrow.get("/api/v1/audit-events/", {"page_size": 500}))
    assert rows and {row["region_code"] for row in rows} == {"NORTH"}
    south = AuditEvent.objects.get(action="scope.marker", region_code="SOUTH")
    assert narrow.get(f"/api/v1/audit-events/{south.pk}/").status_code == 404
    exported = narrow.get("/api/v1/audit-events/", {"format": "csv"}).content.decode()
    assert "SOUTH" not in exported
    session = Client()
    session.force_login(world.compliance)
    everything = _rows(session.get("/api/v1/audit-events/", {"page_size": 500, "action": "scope.marker"}))
    assert sorted(row["region_code"] for row in everything) == ["", "NORTH", "SOUTH"]
