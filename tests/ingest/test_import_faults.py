"""Faults during a real import: a file uploaded through the API, imported by a real Celery worker process on the real
PostgreSQL and Redis, and then the worker is SIGKILLed, its database connections are terminated
(`pg_terminate_backend` on the application role's connections), or the embedded PostgreSQL is restarted (fast mode:
every connection ends, the server is down for a moment). Each import ends succeeded or failed within the bound, with
an audit row, and the database holds exactly what the job says it committed."""

from __future__ import annotations

import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from cartportal.access import SystemActor
from cartportal.ingest.services import imports_watchdog, stored_upload
from cartportal.models import AuditEvent, Customer, JobRun
from tests.base import build_world
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.slow]

ROWS, CHUNK = 60_000, 2_000
BOUND_SECONDS = 300  # the acceptance bound: every job ends within 5 minutes of the fault
WATCHDOG = SystemActor("task:import-watchdog")


@pytest.fixture
def import_worker(transactional_db):
    worker = WorkerProcess(extra_env={"CARTPORTAL_IMPORT_CHUNK_ROWS": str(CHUNK)})
    worker.start()
    yield worker
    worker.stop()


def customers_file() -> bytes:
    rows = "".join(f"CU-{i:06d},Person {i},2024-0{1 + i % 9}-1{i % 10} 10:00\n" for i in range(ROWS))
    return ("customer_id,name,signup_date\n" + rows).encode()


def upload(world, data: bytes) -> int:
    client = APIClient()
    client.force_authenticate(world.manager_a)
    response = client.post(
        "/api/v1/imports/customers/",
        {"file": SimpleUploadedFile("customers.csv", data), "region": world.region_a.code},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def terminate_worker_connections() -> int:
    """End every connection of the application role (the worker's; this test runs as the owner) to the test
    database, as the embedded server's superuser."""
    from django.conf import settings

    from cartportal import devservices

    if not (devservices.DATA_DIR / "pg").is_dir():
        pytest.skip("needs the embedded PostgreSQL (its superuser ends the worker's connections)")
    output = devservices.superuser_psql(
        "SELECT pid FROM pg_stat_activity, pg_terminate_backend(pid) AS ended "
        f"WHERE datname = '{connection.settings_dict['NAME']}' AND usename = '{settings.DATABASE_APP_ROLE}' AND ended;"
    )
    found = re.search(r"\((\d+) rows?\)", output)
    return int(found.group(1)) if found else 0


def chunks_committed(job_id: int) -> int:
    return (JobRun.objects.get(pk=job_id).checkpoint or {}).get("chunks", 0)


def ended(job_id: int) -> JobRun | None:
    job = JobRun.objects.get(pk=job_id)
    return job if job.state in (JobRun.State.SUCCEEDED, JobRun.State.FAILED) else None


def test_a_worker_killed_mid_import_is_resumed_from_its_last_chunk_without_duplicates(import_worker):
    world = build_world()
    job_id = upload(world, customers_file())
    wait(lambda: chunks_committed(job_id) >= 3, 120, "three committed chunks")
    import_worker.kill()
    killed_at = time.monotonic()
    job = JobRun.objects.get(pk=job_id)
    committed = job.checkpoint
    assert job.state == JobRun.State.RUNNING, "the import ended before the kill: nothing was tested"
    assert committed["line"] < ROWS + 1 and Customer.objects.count() == committed["counts"]["loaded"]

    import_worker.start()
    # beat runs the watchdog every minute; here it runs every second, with a short stall time
    wait(lambda: job_id in imports_watchdog(actor=WATCHDOG, stall_seconds=5)["requeued"], 120, "the re-queue")
    job = wait(lambda: ended(job_id), BOUND_SECONDS - (time.monotonic() - killed_at), "the resumed import to end")
    assert time.monotonic() - killed_at < BOUND_SECONDS

    assert job.state == JobRun.State.SUCCEEDED, job.error
    counts = job.counts
    # resumed after the last committed chunk: a restart from line 1 would count its rows as duplicates
    assert counts["resumed_from_line"] == committed["line"]
    assert (counts["read"], counts["loaded"], counts["duplicates"], counts["quarantined"]) == (ROWS, ROWS, 0, 0)
    assert Customer.objects.count() == Customer.objects.values("external_id").distinct().count() == ROWS
    requeued = AuditEvent.objects.get(action="data.import.requeued", object_id=str(job_id))
    assert requeued.after["committed_through_line"] == committed["line"]
    assert AuditEvent.objects.get(action="data.import", object_id=str(job_id)).after["loaded"] == ROWS
    assert stored_upload(job_id) is None


def test_the_database_gone_mid_import_ends_the_job_with_the_reason_and_what_was_committed(import_worker):
    world = build_world()
    data = customers_file()
    job_id = upload(world, data)
    wait(lambda: chunks_committed(job_id) >= 2, 120, "two committed chunks")
    assert terminate_worker_connections() >= 1
    fault_at = time.monotonic()

    def end_or_watchdog():
        imports_watchdog(actor=WATCHDOG, stall_seconds=30)  # in case the failure could not be recorded either
        return ended(job_id)

    job = wait(end_or_watchdog, BOUND_SECONDS, "the import to end")
    assert time.monotonic() - fault_at < BOUND_SECONDS
    audit = AuditEvent.objects.filter(action="data.import", object_id=str(job_id)).get()
    if job.state == JobRun.State.FAILED:
        assert job.error and audit.after["failed"] == job.error
        assert "terminat" in job.error or "closed" in job.error, job.error  # the reason, as PostgreSQL gave it
        # exactly what the job says it committed is in the database: no half chunk
        assert Customer.objects.count() == job.counts["loaded"] == audit.after["loaded"] < ROWS
    else:
        assert job.counts["loaded"] == Customer.objects.count() == ROWS

    # importing the same file again adds only what is missing
    second_id = upload(world, data)
    second = wait(lambda: ended(second_id), 180, "the second import")
    assert second.state == JobRun.State.SUCCEEDED, second.error
    assert second.counts["loaded"] + second.counts["duplicates"] == ROWS
    assert Customer.objects.count() == Customer.objects.values("external_id").distinct().count() == ROWS


@pytest.mark.exclusive  # restarts the server every test process shares
def test_a_database_restart_mid_import_ends_the_job_within_the_bound(import_worker):
    """The embedded server restarted (fast: every connection ended, the server down for a moment) while the worker
    commits chunks. The job either fails with the reason at once, or, when the failure could not be recorded with
    the server still down, is found by the watchdog and resumed after its last committed chunk."""
    from cartportal import devservices

    if not (devservices.DATA_DIR / "pg").is_dir():
        pytest.skip("needs the embedded PostgreSQL, which the test restarts")
    world = build_world()
    data = customers_file()
    job_id = upload(world, data)
    wait(lambda: chunks_committed(job_id) >= 2, 120, "two committed chunks")
    devservices.restart_postgres()
    fault_at = time.monotonic()
    connection.close()  # this test's own connection ended with the restart too

    def end_or_watchdog():
        imports_watchdog(actor=WATCHDOG, stall_seconds=15)
        return ended(job_id)

    job = wait(end_or_watchdog, BOUND_SECONDS, "the import to end")
    assert time.monotonic() - fault_at < BOUND_SECONDS
    audit = AuditEvent.objects.filter(action="data.import", object_id=str(job_id)).get()
    assert audit.after["loaded"] == job.counts["loaded"] == Customer.objects.count()
    if job.state == JobRun.State.FAILED:
        assert job.error and audit.after["failed"] == job.error and job.counts["loaded"] < ROWS
    else:
        assert AuditEvent.objects.filter(action="data.import.requeued", object_id=str(job_id)).exists()
        assert (job.counts["loaded"], job.counts["duplicates"]) == (ROWS, 0), job.counts
        assert job.counts["resumed_from_line"] > 1
    assert Customer.objects.values("external_id").distinct().count() == Customer.objects.count()
