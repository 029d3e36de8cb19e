"""Thin Celery tasks: rebuild segments (after each rescore, or from the Segments page) with JobRun progress."""

from __future__ import annotations

from celery import shared_task


@shared_task(bind=True, acks_late=True)
def rebuild_segments(self, job_id: int | None = None, region_ids: list[int] | None = None, personas: bool = True):
    """Rebuild every segment of the given regions (None = all). Idempotent: a re-run replaces the same rows."""
    from cartportal.access import SystemActor
    from cartportal.jobs import job_create, job_failed, job_finished, job_progress, job_started
    from segments.services import personas_rebuild, segments_rebuild, segments_snapshot_months

    if job_id is None:
        job_id = job_create(kind="segments.rebuild", parameters={"region_ids": region_ids}).pk
    job_started(job_id, task_id=self.request.id or "")
    actor = SystemActor("task:rebuild_segments", region_ids)
    try:
        result = segments_rebuild(
            actor=actor, region_ids=region_ids, progress=lambda p, m: job_progress(job_id, p * 0.5, message=m)
        )
        job_progress(job_id, 55, message="snapshots")
        segments_snapshot_months(actor=actor, months=12, region_ids=region_ids)
        runs = personas_rebuild(actor=actor, region_ids=region_ids) if personas else []
        counts = {"customers": result.customers, "persona_runs": len(runs), **result.counts}
        job_finished(job_id, counts=counts, message="segments rebuilt")
        return counts
    except Exception as error:
        job_failed(job_id, f"{type(error).__name__}: {error}")
        raise
