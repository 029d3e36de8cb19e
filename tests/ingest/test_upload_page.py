"""Upload on the Data tab: the file goes to a real Celery worker, the page follows the job to its counts."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cartportal.models import CartEvent, JobRun, Product, Session
from tests.base import build_world

CSV = (
    b"session_id,sku,event,price,quantity,timestamp\n"
    b"S1,A1,add,3.00,1,2025-03-01 10:00:00\n"
    b"S1,A1,checkout,3.00,1,2025-03-01 10:05:00\n"
    b"S1,NOPE,add,3.00,1,2025-03-01 10:06:00\n"
    b"S1,A1,add,abc,1,2025-03-01 10:07:00\n"
)


def wait_for(job_id: int, seconds: float = 90) -> JobRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = JobRun.objects.get(pk=job_id)
        if job.state in (JobRun.State.SUCCEEDED, JobRun.State.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} did not finish")


@pytest.mark.django_db(transaction=True)
def test_upload_runs_on_a_worker_and_reports(celery_worker_process):
    world = build_world()
    Product.objects.create(sku="A1", name="a", price=3)
    Session.objects.create(external_id="S1", region=world.region_a)
    client = Client()
    client.force_login(world.manager_a)
    response = client.post(
        reverse("ingest:imports"),
        {
            "kind": "cart_events",
            "region": world.region_a.code,
            "file": SimpleUploadedFile("events.csv", CSV, content_type="text/csv"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job_id = int(response["Location"].rstrip("/").split("/")[-1])
    job = wait_for(job_id)
    assert job.state == JobRun.State.SUCCEEDED, job.error
    assert job.counts["read"] == 4 and job.counts["loaded"] == 2 and job.counts["quarantined"] == 2
    assert job.started_by == world.manager_a and job.region == world.region_a
    assert CartEvent.objects.count() == 2
    page = client.get(response["Location"]).content.decode()
    assert "unknown_reference" in page and "not_a_number" in page
    csv = b"".join(client.get(response["Location"] + "?format=csv").streaming_content).decode()
    assert csv.splitlines()[0] == "line,column,code,message,raw" and len(csv.splitlines()) == 3
    assert (
        client.get(reverse("portal:job", kwargs={"job_id": job_id}), HTTP_ACCEPT="application/json").json()["progress"]
        == 100
    )

    foreign = client.post(
        reverse("ingest:imports"),
        {
            "kind": "cart_events",
            "region": world.region_b.code,
            "file": SimpleUploadedFile("events.csv", CSV, content_type="text/csv"),
        },
    )
    assert foreign.status_code == 200 and "Select a valid choice" in foreign.content.decode()
    assert JobRun.objects.filter(kind__startswith="import:").count() == 1
