"""Writing a week's promotions: train the regressor on the regions' history, rank the candidate categories of
every consenting customer, keep the top three. Re-running a week replaces that week's rows of those regions in
one transaction, so a re-delivered task neither duplicates nor half-writes anything."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cartportal.access import region_ids_for
from cartportal.audit import record
from cartportal.jobs import job_create, job_failed, job_finished, job_progress, job_started
from cartportal.models import Customer, JobRun, Region
from cartportal.services import DomainError
from interventions.models import PromotionOffer
from interventions.promotions import model, ranking
from interventions.promotions.features import load_activity, pairs_at
from interventions.promotions.ranking import DISCOUNT_BY_RELATION

log = logging.getLogger(__name__)
JOB_KIND = "interventions.promotions"


def week_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def consenting_regions(region_ids: list[int]) -> dict[int, int]:
    """Customer id -> region id of the customers who agreed to personalisation and marketing and were not
    erased (an offer belongs to the customer's own region, whichever country an order came from)."""
    rows = Customer.objects.filter(
        region_id__in=region_ids, consent_personalisation=True, consent_marketing=True, erased_at__isnull=True
    )
    return dict(rows.values_list("pk", "region_id"))


def _regions(actor, region_ids: list[int] | None) -> list[int]:
    allowed = region_ids_for(actor, "change")
    wanted = list(Region.objects.values_list("pk", flat=True)) if region_ids is None else list(region_ids)
    return sorted(r for r in wanted if allowed is None or r in allowed)


def promotions_generate_start(*, actor, region_ids: list[int] | None = None) -> JobRun:
    """Queue the generation for the regions the actor may change (a JobRun with progress)."""
    ids = _regions(actor, region_ids)
    if not ids:
        raise DomainError("you may not generate promotions in any region", code="forbidden")
    with transaction.atomic():
        # a job of one region is visible to that region's people; one over several regions to global roles
        region = Region.objects.get(pk=ids[0]) if len(ids) == 1 else None
        job = job_create(kind=JOB_KIND, actor=actor, region=region, parameters={"region_ids": ids})
        record(actor=actor, action="promotions.requested", object_type="job", object_id=job.pk, after={"regions": ids})
        transaction.on_commit(lambda: _enqueue(job.pk, ids))
    return job


def _enqueue(job_id: int, region_ids: list[int]) -> None:
    from interventions.tasks import generate_promotions

    generate_promotions.delay(job_id, region_ids)


def _offers(scored, consenting: dict[int, int], week: dt.date, job_id: int | None, trained) -> list[PromotionOffer]:
    chosen = ranking.top3(scored, ranking.offer_score(scored, trained.ranker, trained.ranked_by))
    chosen = chosen[chosen["customer_id"].isin(list(consenting))]
    chosen = chosen.assign(rank=chosen.groupby("customer_id").cumcount() + 1)
    return [
        PromotionOffer(
            customer_id=int(row.customer_id),
            region_id=consenting[int(row.customer_id)],
            week_start=week,
            rank=int(row.rank),
            category=str(row.category)[:120],
            discount_rate=DISCOUNT_BY_RELATION[row.relation],
            relation=row.relation,
            predicted_order_value=Decimal(str(round(float(row.predicted), 2))),
            base=row.base,
            job_id=job_id,
        )
        for row in chosen.itertuples(index=False)
    ]


def promotions_generate(
    *, actor, region_ids: list[int] | None = None, week: dt.date | None = None, job_id: int | None = None
) -> dict:
    """Train, check on the time-based holdout, and write the week's top three offers per consenting customer.
    Run outside a queued job (the demo seed, a shell), it records its own job: the offers point at the job whose
    counts hold the holdout check the promotions page shows."""
    ids = _regions(actor, region_ids)
    week = week_of(week or timezone.localdate())
    if job_id is None:
        region = Region.objects.get(pk=ids[0]) if len(ids) == 1 else None
        job_id = job_create(kind=JOB_KIND, actor=actor, region=region, parameters={"region_ids": ids}).pk
    job_started(job_id)
    try:
        activity = load_activity(ids)
        _progress(job_id, 20, "history read; training on the window before last")
        trained = model.train(activity, settings.CARTPORTAL_PROMOTION_WINDOW_DAYS)
        _progress(job_id, 60, "holdout checked; ranking categories")
        scored = pairs_at(activity, trained.scoring_cutoff)
        scored = model.ranking_inputs(activity, scored, trained.scoring_cutoff, trained.params)
        scored["predicted"] = model.predict(trained.regressor, scored)
        offers = _offers(scored, consenting_regions(ids), week, job_id, trained)
    except Exception as exc:
        job_failed(job_id, str(exc))
        if isinstance(exc, model.PromotionModelError):
            raise DomainError(str(exc)) from exc
        raise
    with transaction.atomic():
        replaced, _ = PromotionOffer.objects.filter(region_id__in=ids, week_start=week).delete()
        PromotionOffer.objects.bulk_create(offers, batch_size=5000)
        counts = {
            "week_start": week.isoformat(),
            "regions": len(ids),
            "customers": len({o.customer_id for o in offers}),
            "offers": len(offers),
            "replaced": replaced,
            **trained.holdout,
        }
        record(actor=actor, action="promotions.generated", object_type="interventions.promotionoffer", after=counts)
    log.info("weekly promotions %s: %s", week, counts)
    job_finished(job_id, counts=counts, message=f"{len(offers)} offers for the week of {week}")
    return counts


def _progress(job_id: int | None, value: float, message: str) -> None:
    if job_id:
        job_progress(job_id, value, message=message)


def promotions_for_beat() -> int:
    """Beat entry: a job over every region, run in this worker."""
    from cartportal.access import SystemActor

    job = job_create(kind=JOB_KIND, parameters={"region_ids": None})
    promotions_generate(actor=SystemActor("task:promotions"), job_id=job.pk)
    return job.pk
