"""Celery tasks: thin, pass ids, idempotent. acks_late + reject_on_worker_lost come from settings."""

from __future__ import annotations

from celery import shared_task

from cartportal import extensions
from cartportal.access import SystemActor

from . import services
from .scoring import pipeline


@shared_task(name="predictions.score_chunk", bind=True, max_retries=3)
def score_chunk(self, chunk_id: int) -> str:
    from .models import ScoringChunk

    try:
        outcome = pipeline.score_chunk(chunk_id)
    except Exception as exc:
        run_id = ScoringChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
        if self.request.retries >= self.max_retries and run_id:
            services.rescore_fail(run_id=run_id, error=f"chunk {chunk_id}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=5) from exc
    run_id = ScoringChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
    if run_id:
        _publish(run_id)
    return outcome


@shared_task(name="predictions.publish_run")
def publish_run(run_id: int) -> bool:
    return _publish(run_id)


def _publish(run_id: int) -> bool:
    """Publish the run when it is complete, and announce it (`scoring_published`: segments rebuild their regions,
    queued once after the commit, so the publish does not wait for it)."""
    published = pipeline.publish_if_complete(run_id)
    if published:
        extensions.scoring_published.send(sender=_publish, run_id=run_id)
    return published


@shared_task(name="predictions.rescore")
def rescore(kind: str) -> int | None:
    """Beat entry: rescore every customer with the active model of `kind` (skipped when there is none)."""
    from . import registry

    if registry.active_version(kind) is None:
        return None
    return services.rescore_start(actor=SystemActor("task:rescore"), kind=kind).pk


@shared_task(name="predictions.prune_runs")
def prune_runs(keep: int | None = None) -> int:
    """Beat entry: delete the scores of older runs of every kind, keeping the newest `keep` published runs."""
    from django.conf import settings

    from .models import Kind

    keep = settings.PREDICTIONS_KEEP_RUNS if keep is None else keep
    actor = SystemActor("task:prune_runs")
    return sum(services.prune_runs(actor=actor, kind=kind, keep=keep) for kind in Kind.values)


@shared_task(name="predictions.resume_stalled_runs")
def resume_stalled_runs(older_than_seconds: int | None = None) -> int:
    return services.resume_stalled_runs(actor=SystemActor("task:rescore"), older_than_seconds=older_than_seconds)


@shared_task(name="predictions.retrain")
def retrain(job_id: int | None, kind: str) -> int | None:
    """On demand (job from the portal) or from beat (job_id None: a job is created here)."""
    from cartportal.jobs import job_create

    actor = SystemActor("task:retrain")
    if job_id is None:
        job_id = job_create(kind="retrain", parameters={"kind": kind}).pk
    version = services.retrain_run(actor=actor, job_id=job_id, kind=kind)
    return version.pk if version else None


@shared_task(name="predictions.drift")
def drift(kind: str, month: str | None = None) -> int:
    """Monthly: PSI of the last complete month against the month before."""
    import datetime as dt

    from .drift import drift_compute, last_complete_month

    day = dt.date.fromisoformat(month) if month else last_complete_month()
    return drift_compute(actor=SystemActor("task:drift"), kind=kind, month=day).pk


@shared_task(name="predictions.winback_warm")
def winback_warm(region_ids: list[int], months: int = 3, share: float = 0.2) -> int:
    """Fit, rank and measure the win-back list of these regions (ids checked by the page that queued it) into the
    cache that the Win back page reads; the number of ranked customers."""
    from .winback.selectors import winback_for

    return len(winback_for(None, region_ids, months=months, share=share).ranked)
