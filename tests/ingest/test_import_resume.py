"""An import that stops (killed after a chunk, an exception, a database error) never stays "running": it continues
after its last committed chunk when the watchdog re-queues it (no duplicates, every row once), or ends failed with
the reason and an audit row of what was committed. A task that lost its lease commits nothing.

The faults here are raised in this process right after a chunk's commit (a `BaseException` stands for SIGKILL:
nothing of the import runs after it); tests/ingest/test_import_faults.py does the same with a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from cartportal.access import SystemActor
from cartportal.ingest import services
from cartportal.ingest.pipeline import ImportOptions, LeaseLost
from cartportal.ingest.pipeline import run as pipeline_run
from cartportal.models import AuditEvent, Customer, JobRun

ROWS, CHUNK = 3000, 500
ACTOR = SystemActor("task:import")
WATCHDOG = SystemActor("task:import-watchdog")


class Killed(BaseException):
    """Stands for the worker being SIGKILLed: no handler of the import runs."""


@pytest.fixture
def upload(world, tmp_path, settings):
    settings.CARTPORTAL_IMPORT_CHUNK_ROWS = CHUNK
    settings.CARTPORTAL_UPLOAD_DIR = str(tmp_path)
    options = ImportOptions(kind="customers", region=world.region_a.code, filename="customers.csv")
    job = services.import_create_job(actor=ACTOR, options=options)
    path = services.upload_path(job.pk, "customers.csv")
    rows = "".join(f"CU-{i:05d},Person {i},2024-0{1 + i % 9}-1{i % 10} 10:00\n" for i in range(ROWS))
    path.write_text("customer_id,name,signup_date\n" + rows)
    return job, path, options


def fault_after(monkeypatch, chunks: int, error: BaseException) -> None:
    """Raise `error` right after the `chunks`-th chunk committed (where the import reports its progress)."""
    seen = []
    real = pipeline_run.job_progress

    def progress(job_id, *args, **kwargs):
        real(job_id, *args, **kwargs)
        seen.append(job_id)
        if len(seen) == chunks:
            raise error

    monkeypatch.setattr(pipeline_run, "job_progress", progress)


def go_stale(job: JobRun) -> None:
    JobRun.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))


@pytest.mark.django_db
def test_a_killed_import_is_requeued_and_continues_after_its_last_committed_chunk(upload, monkeypatch):
    job, path, options = upload
    lease = services.import_claim(job_id=job.pk, task_id="first-task")
    fault_after(monkeypatch, 3, Killed())
    with pytest.raises(Killed):
        services.import_run(actor=ACTOR, source=path, options=options, job=job, lease=lease)
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.state == JobRun.State.RUNNING and job.checkpoint["line"] == 1 + 3 * CHUNK
    assert job.checkpoint["counts"]["loaded"] == Customer.objects.count() == 3 * CHUNK

    # a fresh heartbeat: not stalled yet; a stale one: re-queued as a new task
    assert services.imports_watchdog(actor=WATCHDOG, stall_seconds=60) == {"requeued": [], "failed": []}
    go_stale(job)
    assert services.imports_watchdog(actor=WATCHDOG, stall_seconds=60) == {"requeued": [job.pk], "failed": []}
    job.refresh_from_db()
    assert job.attempts == 1 and job.task_id not in ("", "first-task") and job.lease == ""
    requeued = AuditEvent.objects.get(action="data.import.requeued", object_id=str(job.pk))
    assert requeued.after["committed_through_line"] == 1 + 3 * CHUNK and requeued.after["loaded"] == 3 * CHUNK

    # the first task's message, redelivered later, is refused; the re-queued task claims the job and resumes
    assert services.import_claim(job_id=job.pk, task_id="first-task") is None
    lease = services.import_claim(job_id=job.pk, task_id=job.task_id)
    assert lease and services.import_claim(job_id=job.pk, task_id=job.task_id) is None  # held: no second copy
    services.import_run(actor=ACTOR, source=path, options=options, job=job, lease=lease)
    job.refresh_from_db()
    assert job.state == JobRun.State.SUCCEEDED and job.progress == 100
    counts = job.counts
    assert (counts["read"], counts["loaded"], counts["duplicates"], counts["quarantined"]) == (ROWS, ROWS, 0, 0)
    assert counts["resumed_from_line"] == 1 + 3 * CHUNK and counts["committed_through_line"] == 1 + ROWS
    assert Customer.objects.count() == Customer.objects.values("external_id").distinct().count() == ROWS
    final = AuditEvent.objects.filter(action="data.import", object_id=str(job.pk)).get()
    assert final.after["loaded"] == ROWS and final.after["resumed_from_line"] == 1 + 3 * CHUNK


@pytest.mark.django_db
def test_a_task_that_lost_its_lease_commits_nothing(upload):
    job, path, options = upload
    stale_lease = services.import_claim(job_id=job.pk, task_id="first-task")
    go_stale(job)
    assert services.imports_watchdog(actor=WATCHDOG, stall_seconds=60)["requeued"] == [job.pk]
    with pytest.raises(LeaseLost):
        services.import_run(actor=ACTOR, source=path, options=options, job=job, lease=stale_lease)
    job.refresh_from_db()
    assert Customer.objects.count() == 0 and job.state == JobRun.State.RUNNING and not job.checkpoint


@pytest.mark.django_db
@pytest.mark.parametrize("error", [RuntimeError("boom"), OperationalError("server closed the connection")])
def test_any_exception_fails_the_import_with_an_audit_row_of_what_was_committed(upload, monkeypatch, error):
    job, path, options = upload
    fault_after(monkeypatch, 2, error)
    with pytest.raises(type(error)):
        services.import_run(actor=ACTOR, source=path, options=options, job=job)
    job.refresh_from_db()
    assert job.state == JobRun.State.FAILED and job.finished_at is not None
    assert f"{type(error).__name__}: {error}" in job.error and "lines up to 1,001" in job.error
    assert Customer.objects.count() == 2 * CHUNK
    audit = AuditEvent.objects.get(action="data.import", object_id=str(job.pk))
    assert audit.after["loaded"] == 2 * CHUNK and audit.after["committed_through_line"] == 1 + 2 * CHUNK
    assert audit.after["failed"] == job.error
    assert services.stored_upload(job.pk) is None  # an ended import's upload is deleted


@pytest.mark.django_db
def test_the_watchdog_fails_an_import_it_cannot_resume(upload, settings):
    job, path, options = upload
    JobRun.objects.filter(pk=job.pk).update(
        state=JobRun.State.RUNNING, attempts=settings.CARTPORTAL_IMPORT_MAX_ATTEMPTS
    )
    go_stale(job)
    assert services.imports_watchdog(actor=WATCHDOG, stall_seconds=60) == {"requeued": [], "failed": [job.pk]}
    job.refresh_from_db()
    assert job.state == JobRun.State.FAILED and "no progress for 60 s" in job.error and "re-queued 3 times" in job.error
    assert AuditEvent.objects.get(action="data.import", object_id=str(job.pk)).after["loaded"] == 0
    assert not path.exists()

    other = services.import_create_job(actor=ACTOR, options=options)  # running, stalled, and no upload at all
    JobRun.objects.filter(pk=other.pk).update(state=JobRun.State.RUNNING)
    go_stale(other)
    assert services.imports_watchdog(actor=WATCHDOG, stall_seconds=60)["failed"] == [other.pk]
    assert "its upload is gone" in JobRun.objects.get(pk=other.pk).error


@pytest.mark.django_db
def test_only_the_scheduler_runs_the_watchdog(world):
    from cartportal.errors import Forbidden

    with pytest.raises(Forbidden):
        services.imports_watchdog(actor=world.executive)
