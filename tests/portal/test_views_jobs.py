"""Whoever may start a job may follow it: its page, the JSON its page polls, and the Jobs tab ("mine" by default)."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cartportal.jobs import job_create
from cartportal.models import JobRun, Product, Session
from tests.base import build_world

pytestmark = pytest.mark.django_db


def _poll(client, job_id: int):
    return client.get(reverse("portal:job", kwargs={"job_id": job_id}), HTTP_ACCEPT="application/json")


def test_analyst_follows_the_global_jobs_they_started(client, world):
    jobs = [job_create(kind=kind, actor=world.analyst_a) for kind in ("retrain", "rescore", "segments.rebuild")]
    client.force_login(world.analyst_a)
    for job in jobs:
        assert _poll(client, job.pk).json()["state"] == "queued"
        page = client.get(reverse("portal:job", kwargs={"job_id": job.pk})).content.decode()
        assert "Started by analyst_north" in page
    tab = client.get(reverse("portal:jobs")).content.decode()
    for job in jobs:
        assert f'href="/jobs/{job.pk}/"' in tab and job.kind in tab


def test_a_global_job_started_by_someone_else_stays_hidden(client, world):
    job = job_create(kind="retrain", actor=world.executive)
    client.force_login(world.analyst_a)
    assert _poll(client, job.pk).status_code == 404
    client.force_login(world.manager_b)
    assert _poll(client, job.pk).status_code == 404
    client.force_login(world.executive)
    assert _poll(client, job.pk).status_code == 200


def test_regional_jobs_stay_region_scoped(client, world):
    foreign = job_create(kind="import:orders", region=world.region_b)
    own = job_create(kind="import:orders", region=world.region_a)
    client.force_login(world.manager_a)
    assert _poll(client, foreign.pk).status_code == 404
    assert _poll(client, own.pk).status_code == 200


def test_jobs_tab_lists_mine_by_default_and_all_on_request(client, world):
    mine = job_create(kind="marker-mine", actor=world.manager_a)
    other = job_create(kind="marker-colleague", region=world.region_a)
    client.force_login(world.manager_a)
    default = client.get(reverse("portal:jobs")).content.decode()
    assert "marker-mine" in default and "marker-colleague" not in default
    every = client.get(reverse("portal:jobs"), {"who": "all"}).content.decode()
    assert "marker-mine" in every and "marker-colleague" in every
    assert mine.pk != other.pk


def test_partner_follows_their_import_through_the_api(client, world):
    job = job_create(kind="import:orders", actor=world.partner)
    response = client.get(
        f"/api/v1/jobs/{job.pk}/", HTTP_AUTHORIZATION=f"Token {world.partner_token_key}", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200 and response.json()["id"] == job.pk


CSV = b"session_id,sku,event,price,quantity,timestamp,region\nS1,A1,add,3.00,1,2025-03-01 10:00:00,NORTH\n"


@pytest.mark.django_db(transaction=True)
def test_manager_upload_with_regions_from_the_file_polls_to_the_end(celery_worker_process):
    world = build_world()
    Product.objects.create(sku="A1", name="a", price=3)
    Session.objects.create(external_id="S1", region=world.region_a)
    client = Client()
    client.force_login(world.manager_a)
    response = client.post(
        reverse("ingest:imports"),
        {"kind": "cart_events", "region": "", "file": SimpleUploadedFile("e.csv", CSV, content_type="text/csv")},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job_id = int(response["Location"].rstrip("/").split("/")[-1])
    assert f'data-url="/jobs/{job_id}/"' in client.get(response["Location"]).content.decode()
    deadline, state = time.monotonic() + 90, "queued"
    while state in ("queued", "running") and time.monotonic() < deadline:
        polled = _poll(client, job_id)
        assert polled.status_code == 200
        state = polled.json()["state"]
        time.sleep(0.3)
    assert state == JobRun.State.SUCCEEDED, JobRun.objects.get(pk=job_id).error
    assert _poll(client, job_id).json()["progress"] == 100
