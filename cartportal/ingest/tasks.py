"""Thin Celery tasks: the worker runs the same import service as the command and the API.

An import task is acknowledged only when it ends (`acks_late`) and goes back to the queue when its worker dies
(`reject_on_worker_lost`); a copy that arrives while another holds the job, or after the watchdog re-queued it as
another task, stops at once (`import_claim`). A resumed import continues after its last committed chunk.
"""

from __future__ import annotations

import json
from pathlib import Path

from celery import shared_task
from django.conf import settings

from cartportal.models import JobRun


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def import_file_task(self, job_id: int, upload: str, options_json: str, user_id: int | None) -> dict:
    from cartportal.services import DomainError

    from .pipeline import ImportOptions, LeaseLost
    from .services import import_actor, import_claim, import_fail, import_run, upload_delete

    lease = import_claim(job_id=job_id, task_id=self.request.id or "")
    if lease is None:
        return {"skipped": "the import ended or another task holds it"}
    job = JobRun.objects.get(pk=job_id)
    actor = import_actor(job, user_id)
    if actor is None:
        import_fail(job_id=job_id, actor="task:import", reason="the user or API token that started it is gone")
        return {"error": "no actor"}
    path = Path(settings.CARTPORTAL_UPLOAD_DIR) / Path(upload).name  # only ever a file of the upload folder
    if not path.exists():
        import_fail(job_id=job_id, actor=actor, reason="its uploaded file is no longer stored")
        return {"error": "upload missing"}
    try:
        import_run(actor=actor, source=path, options=ImportOptions(**json.loads(options_json)), job=job, lease=lease)
    except LeaseLost:
        return {"skipped": "the watchdog handed the import to another task"}
    except DomainError as error:
        upload_delete(job_id)
        return {"error": str(error)}
    upload_delete(job_id)
    from cartportal.pages.tasks import queue_warm_rollups

    queue_warm_rollups()  # the portal's rollups see the new rows before anyone asks
    return JobRun.objects.get(pk=job_id).counts


@shared_task(name="ingest.imports_watchdog")
def imports_watchdog(stall_seconds: int | None = None) -> dict:
    from .services import WATCHDOG_ACTOR, imports_watchdog

    return imports_watchdog(actor=WATCHDOG_ACTOR, stall_seconds=stall_seconds)


@shared_task(name="ingest.prune_uploads")
def prune_uploads(older_than_hours: float | None = None) -> int:
    from .services import WATCHDOG_ACTOR, uploads_prune

    return uploads_prune(actor=WATCHDOG_ACTOR, older_than_hours=older_than_hours)
