"""JobRun services: every long task reports state, progress and counts here.

Progress updates are single-row UPDATEs run outside any surrounding transaction's work, so that a
page polling the job sees them while the task is still going (tasks commit per chunk). Each one is also the job's
heartbeat: a watchdog finds jobs whose heartbeat stopped (a worker killed, a database gone).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from cartportal import extensions
from cartportal.models import JobRun


def job_create(*, kind: str, actor=None, region=None, parameters: dict | None = None, task_id: str = "") -> JobRun:
    return JobRun.objects.create(
        kind=kind,
        region=region,
        parameters=parameters or {},
        started_by=actor if isinstance(actor, get_user_model()) else None,
        task_id=task_id,
    )


def job_started(job_id: int, *, task_id: str = "") -> None:
    now = timezone.now()
    fields = {"state": JobRun.State.RUNNING, "started_at": now, "heartbeat_at": now, "error": ""}
    if task_id:
        fields["task_id"] = task_id
    JobRun.objects.filter(pk=job_id).update(**fields)


def job_progress(job_id: int, progress: float, *, message: str = "", counts: dict | None = None) -> None:
    fields = {
        "progress": max(0.0, min(100.0, float(progress))),
        "message": message[:300],
        "heartbeat_at": timezone.now(),
    }
    if counts is not None:
        fields["counts"] = counts
    JobRun.objects.filter(pk=job_id).update(**fields)


def job_finished(job_id: int, *, counts: dict | None = None, message: str = "") -> None:
    fields = {"state": JobRun.State.SUCCEEDED, "progress": 100.0, "finished_at": timezone.now(), "message": message}
    if counts is not None:
        fields["counts"] = counts
    JobRun.objects.filter(pk=job_id).update(**fields)
    if (counts or {}).get("quarantined"):
        extensions.news.send(sender=job_finished, what="job.quarantined")  # news for its region's manager


def job_failed(job_id: int, error: str, *, counts: dict | None = None) -> None:
    fields = {"state": JobRun.State.FAILED, "finished_at": timezone.now(), "error": error[:5000]}
    if counts is not None:
        fields["counts"] = counts
    JobRun.objects.filter(pk=job_id).update(progress=F("progress"), **fields)
    extensions.news.send(sender=job_failed, what="job.failed")
