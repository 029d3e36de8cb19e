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


@shared_task(name="interventions.assign_campaign", acks_late=True)
def assign_campaign(job_id: int, campaign_id: int, region_ids: list[int]) -> dict | None:
    """Assign a started campaign's eligible customers (a re-delivered task assigns nobody twice)."""
    from cartportal.models import JobRun
    from cartportal.services import DomainError
    from interventions.assignment import campaign_assign_run

    if JobRun.objects.filter(pk=job_id, state=JobRun.State.SUCCEEDED).exists():
        return None  # a re-delivered task, or a job the demo ran in its own process
    actor = SystemActor("task:assign_campaign", region_ids)
    try:
        return campaign_assign_run(actor=actor, campaign_id=campaign_id, job_id=job_id)
    except DomainError:
        return None  # the job row carries the reason


@shared_task(name="interventions.deliver_webhook", acks_late=True)
def deliver_webhook(delivery_id: int) -> None:
    """One webhook attempt; a failure queues the next attempt with exponential backoff."""
    from interventions.delivery.webhooks import delivery_attempt

    retry_in = delivery_attempt(delivery_id)
    if retry_in is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=retry_in)


@shared_task(name="interventions.attribute_outcomes")
def attribute_outcomes(region_ids: list[int] | None = None) -> int:
    """After each import and every half hour: attribute imported orders to the campaigns' assignments."""
    from interventions.attribution import outcomes_attribute

    return outcomes_attribute(actor=SystemActor("task:attribute_outcomes", region_ids), region_ids=region_ids)
