"""Writes of the prediction platform: start a rescore, resume stalled runs, activate and roll back models.

Each service checks the current state, writes inside a transaction with its audit row, and enqueues Celery
work only after commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cartportal.access import MANAGE_MODELS, SystemActor, authorize
from cartportal.audit import record
from cartportal.errors import AppError
from cartportal.jobs import job_create, job_failed, job_started
from cartportal.models import JobRun

from . import registry
from .models import ModelVersion, ScoringChunk, ScoringRun
from .scoring.pipeline import DEFAULT_CHUNK_SIZE, plan_chunks


class PredictionError(AppError):
    """A request that cannot be done now, in the registry's current state; the message says why."""

    default_code = "conflict"


def rescore_start(
    *,
    actor,
    kind: str,
    region_ids: list[int] | None = None,
    as_of=None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    enqueue: bool = True,
) -> ScoringRun:
    """Create a run of the active `kind` model over every customer (of `region_ids`) and fan out its chunks."""
    authorize(actor, MANAGE_MODELS, what="model")
    if kind in RETRAIN_FLOWS:
        raise PredictionError(f"The {kind} model is not stored per customer: it answers when a page or offer asks.")
    version = registry.active_version(kind)
    if version is None:
        raise PredictionError(f"No active {kind} model: train one and promote it before rescoring.")
    with transaction.atomic():
        plan = plan_chunks(region_ids, chunk_size)
        job = job_create(
            kind="rescore", actor=_user_or_none(actor), parameters={"kind": kind, "region_ids": region_ids}
        )
        run = ScoringRun.objects.create(
            model_version=version,
            kind=kind,
            state=ScoringRun.State.RUNNING,
            job=job,
            region_ids=region_ids,
            as_of=as_of or timezone.now(),
            cut_off_now=as_of is None,
            chunk_count=len(plan),
            expected_rows=sum(p[3] for p in plan),
        )
        ScoringChunk.objects.bulk_create(
            ScoringChunk(run=run, number=n, region_id=r, id_from=lo, id_to=hi) for n, (r, lo, hi, _) in enumerate(plan)
        )
        record(
            actor=actor,
            action="scoring.started",
            object_type="scoring_run",
            object_id=run.pk,
            after={"kind": kind, "model_version": version.pk, "chunks": len(plan), "customers": run.expected_rows},
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue_run(run.pk, job.pk))
        else:
            job_started(job.pk)
    return run


def _user_or_none(actor):
    return None if isinstance(actor, SystemActor) or not getattr(actor, "pk", None) else actor


def _enqueue_run(run_id: int, job_id: int) -> None:
    from .tasks import publish_run, score_chunk

    job_started(job_id)
    chunk_ids = list(ScoringChunk.objects.filter(run_id=run_id, done=False).values_list("pk", flat=True))
    for chunk_id in chunk_ids:
        score_chunk.delay(chunk_id)
    if not chunk_ids:
        publish_run.delay(run_id)


def rescore_resume(*, actor, run: ScoringRun) -> int:
    """Send the undone chunks of a running run again (after a crash); duplicates are harmless. Returns how many."""
    authorize(actor, MANAGE_MODELS, what="model")
    from .tasks import publish_run, score_chunk

    if run.state != ScoringRun.State.RUNNING:
        return 0
    chunk_ids = list(run.chunks.filter(done=False).values_list("pk", flat=True))
    if run.job_id:  # counts as progress: the next resume waits for another quiet period, not the next minute
        JobRun.objects.filter(pk=run.job_id).update(heartbeat_at=timezone.now())
    record(
        actor=actor,
        action="scoring.resumed",
        object_type="scoring_run",
        object_id=run.pk,
        after={"chunks": len(chunk_ids)},
    )
    for chunk_id in chunk_ids:
        score_chunk.delay(chunk_id)
    if not chunk_ids:
        publish_run.delay(run.pk)
    return len(chunk_ids)


def resume_stalled_runs(*, actor, older_than_seconds: int | None = None) -> int:
    """Resume every running run with no progress for `older_than_seconds` (default CARTPORTAL_SCORING_STALL_SECONDS;
    a worker died and its message waits for redelivery): its job's heartbeat, written with each scored chunk, is
    older than that (or, for a run without a job or a heartbeat, it was created before that)."""
    authorize(actor, MANAGE_MODELS, what="model")
    if older_than_seconds is None:
        older_than_seconds = settings.CARTPORTAL_SCORING_STALL_SECONDS
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    quiet = Q(job__heartbeat_at__lt=cutoff) | Q(job__heartbeat_at__isnull=True, created_at__lt=cutoff)
    runs = ScoringRun.objects.filter(state=ScoringRun.State.RUNNING).filter(quiet)
    return sum(rescore_resume(actor=actor, run=run) for run in runs)


def rescore_fail(*, run_id: int, error: str) -> None:
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().get(pk=run_id)
        if run.state == ScoringRun.State.PUBLISHED:
            return
        run.state, run.error = ScoringRun.State.FAILED, error[:2000]
        run.save(update_fields=["state", "error"])
        record(
            actor="task:rescore",
            action="scoring.failed",
            object_type="scoring_run",
            object_id=run.pk,
            after={"error": error[:300]},
        )
        if run.job_id:
            job_failed(run.job_id, error)


def prune_runs(*, actor, kind: str, keep: int = 3) -> int:
    """Delete older published and failed runs (and their scores), keeping the newest `keep` published runs and any
    older one that is still the newest run of a region (a run may cover some regions only)."""
    authorize(actor, MANAGE_MODELS, what="model")
    published = ScoringRun.objects.filter(kind=kind, state=ScoringRun.State.PUBLISHED).order_by("-published_at", "-pk")
    keep_ids = _runs_to_keep(list(published.values_list("pk", "region_ids")), keep)
    old = ScoringRun.objects.filter(kind=kind, state__in=["published", "failed"]).exclude(pk__in=keep_ids)
    with transaction.atomic():
        ids = list(old.values_list("pk", flat=True))
        if ids:
            old.delete()
            record(actor=actor, action="scoring.pruned", object_type="scoring_run", after={"runs": ids})
    return len(ids)


def _runs_to_keep(newest_first: list[tuple[int, list[int] | None]], keep: int) -> list[int]:
    kept, covered_all, covered = [], False, set()
    for position, (pk, region_ids) in enumerate(newest_first):
        if position < keep or not (covered_all or (region_ids is not None and set(region_ids) <= covered)):
            kept.append(pk)
        covered_all = covered_all or region_ids is None
        covered |= set(region_ids or [])
    return kept


def model_activate(*, actor, version: ModelVersion, reason: str = "") -> ModelVersion:
    authorize(actor, MANAGE_MODELS, what="model")
    try:
        return registry.activate(actor=actor, version=version, reason=reason)
    except registry.RegistryError as exc:
        raise PredictionError(str(exc)) from exc


def model_rollback(*, actor, kind: str) -> ModelVersion:
    authorize(actor, MANAGE_MODELS, what="model")
    try:
        return registry.rollback(actor=actor, kind=kind)
    except registry.RegistryError as exc:
        raise PredictionError(str(exc)) from exc


# kind -> trainer returning a TrainedModel; the metric it is judged on is the registry's gate (GATE_METRICS)
TRAINERS = {
    "value": "predictions.scoring.training.train_value",
    "abandonment": "predictions.abandonment.services.train",
}


def not_enough_data_errors() -> tuple[type[Exception], ...]:
    """The trainers' "too little data" errors: a retrain job ends with their message, not a stack trace."""
    from .abandonment.cart.model import TrainingError as AbandonmentTrainingError
    from .scoring.training import TrainingError

    return (TrainingError, AbandonmentTrainingError)


# kinds with a retrain of their own (the whole flow, not a TrainedModel): they are not rescored per customer
RETRAIN_FLOWS = {"recommendation": "predictions.recommend.services.recommender_retrain"}


def retrain_start(*, actor, kind: str):
    """Queue a retrain of `kind` (a JobRun with progress); the task registers and maybe promotes the result."""
    authorize(actor, MANAGE_MODELS, what="model")
    if kind not in TRAINERS and kind not in RETRAIN_FLOWS:
        raise PredictionError(f"The {kind} model is not trained by the portal yet.")
    with transaction.atomic():
        job = job_create(kind="retrain", actor=_user_or_none(actor), parameters={"kind": kind})
        record(actor=actor, action="model.retrain_requested", object_type="job", object_id=job.pk, after={"kind": kind})
        transaction.on_commit(lambda: _enqueue_retrain(job.pk, kind))
    return job


def _enqueue_retrain(job_id: int, kind: str) -> None:
    from .tasks import retrain

    retrain.delay(job_id, kind)


def retrain_run(*, actor, job_id: int, kind: str, rescore: bool = True) -> ModelVersion | None:
    """Train, register as a candidate, promote if it beats its baseline and the active version on the same holdout.
    With too little data the job fails with the trainer's message (what is missing) and None is returned."""
    authorize(actor, MANAGE_MODELS, what="model")
    from django.utils.module_loading import import_string

    from cartportal.jobs import job_finished, job_progress

    if kind in RETRAIN_FLOWS:
        return import_string(RETRAIN_FLOWS[kind])(actor=actor, job_id=job_id)
    job_started(job_id)
    try:
        trained = import_string(TRAINERS[kind])()
    except not_enough_data_errors() as exc:
        job_failed(job_id, f"{kind} model not trained: {exc}")
        return None
    except Exception as exc:
        job_failed(job_id, str(exc))
        raise
    job_progress(job_id, 80, message="trained; registering")
    metric, higher_is_better = registry.GATE_METRICS[kind]
    version, promoted = registry.register_trained(
        actor=actor, kind=kind, trained=trained, metric=metric, higher_is_better=higher_is_better
    )
    flat = {k: v for k, v in trained.metrics.items() if isinstance(v, int | float)}
    version.refresh_from_db(fields=["status"])
    # The job says the same word for the version as the Models page does.
    message = f"{kind} version {version.pk} is {version.status}" + ("" if promoted else " (not promoted)")
    job_finished(job_id, counts={"model_version": version.pk, "promoted": promoted, **flat}, message=message)
    if promoted and rescore:
        rescore_start(actor=actor, kind=kind)
    return version
