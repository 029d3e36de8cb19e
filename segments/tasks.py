"""Thin Celery tasks: rebuild segments (after each published rescore, or from the Segments page) with JobRun
progress."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

REBUILD_KIND = "segments.rebuild"


@shared_task(bind=True, acks_late=True)
def rebuild_segments(
    self,
    job_id: int | None = None,
    region_ids: list[int] | None = None,
    personas: bool = True,
    backfill_months: int = 12,
):
    """Rebuild every segment of the given regions (None = all), backfill `backfill_months` monthly snapshots and
    re-evaluate the regions' audiences. Idempotent: a re-run replaces the same rows."""
    from cartportal.access import SystemActor
    from cartportal.jobs import job_create, job_failed, job_finished, job_progress, job_started
    from cartportal.models import JobRun
    from segments.services import audiences_reevaluate, segments_rebuild, segments_snapshot_months

    if job_id is None:
        job_id = job_create(kind=REBUILD_KIND, parameters={"region_ids": region_ids}).pk
    elif not JobRun.objects.filter(pk=job_id).exists():
        return None  # a message that outlived its job (the database was reset): nothing asked for it any more
    job_started(job_id, task_id=self.request.id or "")
    actor = SystemActor("task:rebuild_segments", region_ids)
    try:
        result = segments_rebuild(
            actor=actor,
            region_ids=region_ids,
            personas=personas,
            progress=lambda p, m: job_progress(job_id, p * 0.8, message=m),
        )
        if backfill_months:
            job_progress(job_id, 80, message="snapshots")
            segments_snapshot_months(actor=actor, months=backfill_months, region_ids=region_ids)
        job_progress(job_id, 90, message="audiences")
        audiences = audiences_reevaluate(actor=actor, region_ids=region_ids)
        counts = {
            "customers": result.customers,
            "persona_runs": len(result.persona_runs),
            "audiences": audiences,
            **result.counts,
        }
        job_finished(job_id, counts=counts, message="segments rebuilt")
        return counts
    except Exception as error:
        job_failed(job_id, f"{type(error).__name__}: {error}")
        raise


def rebuild_after_scoring(sender, *, run_id: int, **kwargs) -> None:
    """Receiver of `cartportal.extensions.scoring_published`."""
    queue_rebuild_after_scoring(run_id)


def queue_rebuild_after_scoring(run_id: int) -> int | None:
    """Once per published scoring run: queue the segment rebuild of the regions it scored, after the commit (the
    publish never waits for it). Returns the rebuild's job id, or None when there is nothing (more) to queue.

    Past months' snapshots do not change with new scores, so this rebuild does not backfill them."""
    from cartportal.jobs import job_create
    from cartportal.models import JobRun, Region
    from predictions.models import ScoringRun

    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.state != ScoringRun.State.PUBLISHED:
            return None
        if JobRun.objects.filter(kind=REBUILD_KIND, parameters__scoring_run=run_id).exists():
            return None
        region_ids = run.region_ids
        region = Region.objects.get(pk=region_ids[0]) if region_ids and len(region_ids) == 1 else None
        job = job_create(kind=REBUILD_KIND, region=region, parameters={"region_ids": region_ids, "scoring_run": run_id})
        transaction.on_commit(lambda: rebuild_segments.delay(job.pk, region_ids, backfill_months=0))
    return job.pk
