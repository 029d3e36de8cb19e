"""Import services: create the JobRun, run the pipeline (inline or on a Celery worker), keep the upload until the
import ends, and the watchdog that re-queues or fails imports whose worker stopped."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cartportal import audit, extensions
from cartportal.access import is_system
from cartportal.errors import Forbidden
from cartportal.jobs import job_create, job_failed
from cartportal.models import JobRun
from cartportal.services import DomainError

from .pipeline import ImportOptions, LeaseLost, check_target, run_import

UPLOAD_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}
WATCHDOG_ACTOR = "task:import-watchdog"


def import_create_job(*, actor, options: ImportOptions, region=None) -> JobRun:
    if region is None and options.region:
        from cartportal.models import Region

        region = Region.objects.filter(code__iexact=options.region).first()
    return job_create(
        kind=f"import:{options.kind}",
        actor=actor,
        region=region,
        parameters={k: v for k, v in asdict(options).items() if v not in (None, "", {})},
    )


def import_run(*, actor, source, options: ImportOptions, job: JobRun | None = None, lease: str = "") -> JobRun:
    """Run an import now; a DomainError (bad mapping, unreadable file) fails the job with its message. A database
    error during the load fails the job too, with the counts so far and the reason in `counts["failed"]`. Any other
    exception fails it with an audit row of what its committed chunks hold. A task that lost its lease (another
    task holds the job now) stops without touching the job."""
    job = job or import_create_job(actor=actor, options=options)
    try:
        run_import(actor=actor, source=source, options=options, job_id=job.pk, lease=lease)
    except LeaseLost:
        raise
    except DomainError as error:
        job_failed(job.pk, str(error))
        raise
    except Exception as error:  # whatever stopped it, the job must not be left "running"
        import_fail(job_id=job.pk, actor=actor, reason=f"{type(error).__name__}: {str(error).strip()[:500]}")
        raise
    extensions.import_finished.send(sender=import_run, kind=options.kind, job_id=job.pk)
    job.refresh_from_db()
    return job


def import_fail(*, job_id: int, actor, reason: str) -> None:
    """End an import as failed with the reason, and an audit row of what its committed chunks hold (the counts and
    the last line of its checkpoint): those rows stay, and re-running the file adds only the rest."""
    from django.db import connection

    if not connection.in_atomic_block and (connection.errors_occurred or not connection.is_usable()):
        connection.close()  # a lost connection: record the failure on a new one
    job = JobRun.objects.filter(pk=job_id).first()
    if job is None or job.state in (JobRun.State.SUCCEEDED, JobRun.State.FAILED):
        return
    checkpoint = job.checkpoint or {}
    line = int(checkpoint.get("line") or 0)
    message = (
        f"The import stopped ({reason}). Committed: lines up to {line:,} in {checkpoint.get('chunks', 0)} chunk(s), "
        f"{(checkpoint.get('counts') or {}).get('loaded', 0):,} rows loaded; re-running the file adds only the rest."
    )
    summary = {
        **(checkpoint.get("counts") or {"read": 0, "loaded": 0, "cancellations": 0, "quarantined": 0, "duplicates": 0}),
        "by_code": checkpoint.get("by_code", {}),
        "committed_through_line": line,
        "chunks_committed": checkpoint.get("chunks", 0),
        "failed": message,
    }
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="data.import",
            object_type="job",
            object_id=job_id,
            region_code=job.region.code if job.region_id else "",
            after=summary,
        )
        job_failed(job_id, message, counts=summary)
        JobRun.objects.filter(pk=job_id).update(lease="ended")  # whoever still runs it commits no further chunk
    upload_delete(job_id)


def upload_path(job_id: int, filename: str) -> Path:
    folder = Path(settings.CARTPORTAL_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(filename).suffix.lower() if Path(filename).suffix.lower() in UPLOAD_SUFFIXES else ".csv"
    return folder / f"import-{job_id}{suffix}"


def stored_upload(job_id: int) -> Path | None:
    folder = Path(settings.CARTPORTAL_UPLOAD_DIR)
    return next((p for p in (folder / f"import-{job_id}{s}" for s in UPLOAD_SUFFIXES) if p.exists()), None)


def upload_delete(job_id: int) -> None:
    """An upload is kept only while its import may still need it (running, or re-queued by the watchdog)."""
    path = stored_upload(job_id)
    if path is not None:
        path.unlink(missing_ok=True)


def import_enqueue(*, actor, uploaded_file, options: ImportOptions) -> JobRun:
    """Save the upload (streamed to disk chunk by chunk) and hand it to a worker; the job's page and
    `/api/v1/imports/<id>/` follow its progress. The kind and region are checked first (DomainError, no job)."""
    check_target(actor, options)
    job = import_create_job(actor=actor, options=options)
    token = getattr(actor, "partner_token", None)
    if token is not None:  # the worker narrows the user to the token's regions again, as the request did
        job.parameters["partner_token"] = token.pk
    path = upload_path(job.pk, options.filename or getattr(uploaded_file, "name", "upload.csv"))
    with path.open("wb") as out:
        for part in uploaded_file.chunks():
            out.write(part)
    task_id = uuid.uuid4().hex
    JobRun.objects.filter(pk=job.pk).update(task_id=task_id, parameters=job.parameters)
    job.task_id = task_id
    user_id = getattr(actor, "pk", None)
    transaction.on_commit(lambda: _send(job.pk, path.name, options, user_id, task_id))
    return job


def _send(job_id: int, upload_name: str, options: ImportOptions, user_id, task_id: str) -> None:
    from .tasks import import_file_task

    import_file_task.apply_async((job_id, upload_name, json.dumps(asdict(options)), user_id), task_id=task_id)


def import_actor(job: JobRun, user_id: int | None):
    """Who a worker imports as: the user who started the import, narrowed to the API token's regions when a token
    started it (None when that user or token no longer exists), or the import task itself when no user did."""
    from django.contrib.auth import get_user_model

    from cartportal.access import SystemActor
    from cartportal.models import PartnerToken

    if not user_id:
        return SystemActor("task:import")
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    token_id = (job.parameters or {}).get("partner_token")
    if user is not None and token_id is not None:
        token = PartnerToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).first()
        if token is None:
            return None
        user.partner_token = token
    return user


def import_claim(*, job_id: int, task_id: str) -> str | None:
    """Claim a queued or running import for the task `task_id`: only the task the job was last sent as, and only if
    no task holds it now (no lease, or a lease whose heartbeat stopped). Returns the new lease, None when refused
    (the job ended, was re-queued as another task, or another copy of this task is running it)."""
    stalled = timezone.now() - timezone.timedelta(seconds=settings.CARTPORTAL_IMPORT_STALL_SECONDS)
    lease = uuid.uuid4().hex
    claimed = (
        JobRun.objects.filter(pk=job_id, state__in=[JobRun.State.QUEUED, JobRun.State.RUNNING])
        .filter(Q(task_id=task_id) | Q(task_id=""))
        .filter(Q(lease="") | Q(heartbeat_at__lt=stalled) | Q(heartbeat_at__isnull=True))
        .update(lease=lease, task_id=task_id, heartbeat_at=timezone.now(), state=JobRun.State.RUNNING)
    )
    return lease if claimed else None


def imports_watchdog(*, actor, stall_seconds: int | None = None, max_attempts: int | None = None) -> dict:
    """Find running imports whose heartbeat stopped `stall_seconds` ago (a killed worker, a database outage that
    also kept the failure from being recorded) and re-queue them to continue from their last committed chunk, or,
    after `max_attempts` re-queues or when the upload is gone, end them as failed with an audit row."""
    if not is_system(actor):
        raise Forbidden("Only the scheduler runs the import watchdog.")
    stall_seconds = settings.CARTPORTAL_IMPORT_STALL_SECONDS if stall_seconds is None else stall_seconds
    max_attempts = settings.CARTPORTAL_IMPORT_MAX_ATTEMPTS if max_attempts is None else max_attempts
    cutoff = timezone.now() - timezone.timedelta(seconds=stall_seconds)
    stalled = JobRun.objects.filter(kind__startswith="import:", state=JobRun.State.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    outcome = {"requeued": [], "failed": []}
    for job_id in stalled.values_list("pk", flat=True):
        with transaction.atomic():
            job = JobRun.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
            if job is None or job.state != JobRun.State.RUNNING or (job.heartbeat_at and job.heartbeat_at >= cutoff):
                continue
            upload = stored_upload(job.pk)
            if job.attempts < max_attempts and upload is not None:
                _requeue(job, upload, actor, stall_seconds)
                outcome["requeued"].append(job.pk)
                continue
        why = "its upload is gone" if stored_upload(job_id) is None else f"re-queued {max_attempts} times already"
        reason = f"no progress for {stall_seconds} s: the worker stopped or the database was unreachable; {why}"
        import_fail(job_id=job_id, actor=actor, reason=reason)
        outcome["failed"].append(job_id)
    return outcome


def _requeue(job: JobRun, upload: Path, actor, stall_seconds: int) -> None:
    task_id = uuid.uuid4().hex
    job.task_id, job.lease, job.attempts, job.heartbeat_at = task_id, "", job.attempts + 1, timezone.now()
    job.save(update_fields=["task_id", "lease", "attempts", "heartbeat_at"])
    checkpoint = job.checkpoint or {}
    audit.record(
        actor=actor,
        action="data.import.requeued",
        object_type="job",
        object_id=job.pk,
        region_code=job.region.code if job.region_id else "",
        after={
            "attempt": job.attempts,
            "stalled_seconds": stall_seconds,
            "committed_through_line": int(checkpoint.get("line") or 0),
            "loaded": (checkpoint.get("counts") or {}).get("loaded", 0),
        },
    )
    options = ImportOptions(**{k: v for k, v in job.parameters.items() if k in ImportOptions.__dataclass_fields__})
    user_id = job.started_by_id
    transaction.on_commit(lambda: _send(job.pk, upload.name, options, user_id, task_id))


def uploads_prune(*, actor, older_than_hours: float | None = None) -> int:
    """Delete stored uploads older than the retention period whose import is not running or queued (an import
    deletes its own upload when it ends; this catches what a crash left behind). Returns how many."""
    if not is_system(actor):
        raise Forbidden("Only the scheduler prunes uploads.")
    hours = settings.CARTPORTAL_UPLOAD_RETENTION_HOURS if older_than_hours is None else older_than_hours
    folder = Path(settings.CARTPORTAL_UPLOAD_DIR)
    if not folder.is_dir():
        return 0
    cutoff = timezone.now().timestamp() - hours * 3600
    active = set(
        JobRun.objects.filter(kind__startswith="import:", state__in=[JobRun.State.QUEUED, JobRun.State.RUNNING])
        .values_list("pk", flat=True)
        .iterator()
    )
    deleted = []
    for path in folder.glob("import-*"):
        job_id = path.stem.removeprefix("import-")
        if path.stat().st_mtime < cutoff and not (job_id.isdigit() and int(job_id) in active):
            path.unlink(missing_ok=True)
            deleted.append(path.name)
    if deleted:
        audit.record(actor=actor, action="data.uploads_pruned", object_type="upload", after={"files": deleted[:100]})
    return len(deleted)
