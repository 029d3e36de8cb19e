"""Celery tasks: thin, pass ids, idempotent (a week's offers are replaced as a whole)."""

from __future__ import annotations

from celery import shared_task

from cartportal.access import SystemActor
from interventions.promotions import services


@shared_task(name="interventions.generate_promotions")
def generate_promotions(job_id: int | None = None, region_ids: list[int] | None = None) -> int:
    """On demand (a job from the promotions page, for the regions it was started for) or weekly from beat (no
    job yet: one is created over every region)."""
    if job_id is None:
        return services.promotions_for_beat()
    services.promotions_generate(actor=SystemActor("task:promotions", region_ids), region_ids=region_ids, job_id=job_id)
    return job_id


@shared_task(name="interventions.train_uplift")
def train_uplift(target: str = "visited") -> int | None:
    """Weekly: the uplift model from the stored outcomes of completed campaigns (None when there are too few)."""
    from interventions.uplift.outcomes import OutcomeTrainingError, outcomes_uplift_train

    try:
        version, _report, _promoted = outcomes_uplift_train(actor=SystemActor("task:train_uplift"), target=target)
    except OutcomeTrainingError:
        return None
    return version.pk
