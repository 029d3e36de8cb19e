"""Thin Celery tasks: the worker runs the same import service as the command and the API."""

from __future__ import annotations

import json

from celery import shared_task

from cartportal.models import JobRun


@shared_task(bind=True, acks_late=True)
def import_file_task(self, job_id: int, path: str, options_json: str, user_id: int | None) -> dict:
    from django.contrib.auth import get_user_model

    from cartportal.access import SystemActor
    from cartportal.services import DomainError

    from .pipeline import ImportOptions
    from .services import import_run

    job = JobRun.objects.get(pk=job_id)
    if job.state == JobRun.State.SUCCEEDED:
        return job.counts  # a re-delivered task: the import already finished
    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else SystemActor("task:import")
    JobRun.objects.filter(pk=job_id).update(task_id=self.request.id or "")
    try:
        import_run(actor=actor, source=path, options=ImportOptions(**json.loads(options_json)), job=job)
    except DomainError as error:
        return {"error": str(error)}
    from cartportal.pages.tasks import queue_warm_rollups

    queue_warm_rollups()  # the portal's rollups see the new rows before anyone asks
    return JobRun.objects.get(pk=job_id).counts
