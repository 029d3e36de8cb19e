"""Import services: create the JobRun, run the pipeline (inline or on a Celery worker), keep the file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from django.conf import settings

from cartportal import extensions
from cartportal.jobs import job_create, job_failed
from cartportal.models import JobRun
from cartportal.services import DomainError

from .pipeline import ImportOptions, run_import


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


def import_run(*, actor, source, options: ImportOptions, job: JobRun | None = None) -> JobRun:
    """Run an import now; a DomainError (bad mapping, unreadable file) fails the job with its message. A database
    error during the load fails the job too, with the counts so far and the reason in `counts["failed"]`."""
    job = job or import_create_job(actor=actor, options=options)
    try:
        run_import(actor=actor, source=source, options=options, job_id=job.pk)
    except DomainError as error:
        job_failed(job.pk, str(error))
        raise
    except Exception as error:  # whatever stopped it, the job must not be left "running"
        job_failed(job.pk, f"The import stopped: {type(error).__name__}: {str(error).strip()[:500]}")
        raise
    extensions.import_finished.send(sender=import_run, kind=options.kind, job_id=job.pk)
    job.refresh_from_db()
    return job


def upload_path(job_id: int, filename: str) -> Path:
    folder = Path(settings.CARTPORTAL_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = (
        Path(filename).suffix.lower() if Path(filename).suffix.lower() in {".csv", ".txt", ".tsv", ".xlsx"} else ".csv"
    )
    return folder / f"import-{job_id}{suffix}"


def import_enqueue(*, actor, uploaded_file, options: ImportOptions) -> JobRun:
    """Save the upload and hand it to a worker; the page follows the JobRun's progress."""
    from django.db import transaction

    from .tasks import import_file_task

    job = import_create_job(actor=actor, options=options)
    path = upload_path(job.pk, options.filename or getattr(uploaded_file, "name", "upload.csv"))
    with path.open("wb") as out:
        for part in uploaded_file.chunks():
            out.write(part)
    user_id = getattr(actor, "pk", None)
    transaction.on_commit(lambda: import_file_task.delay(job.pk, str(path), json.dumps(asdict(options)), user_id))
    return job
