"""Readiness of the uplift model for the Models > Readiness page (registered in InterventionsConfig.ready())."""

from __future__ import annotations

from django.db.models import Count, Q

from predictions.readiness import Readiness

MIN_OUTCOMES = 40


def uplift_check(region_id: int) -> Readiness:
    from .models import Assignment, Campaign

    counts = Assignment.objects.filter(
        campaign__region_id=region_id, campaign__state=Campaign.State.COMPLETED, outcome_at__isnull=False
    ).aggregate(total=Count("pk"), held_out=Count("pk", filter=Q(holdout=True)))
    total, held_out = counts["total"], counts["held_out"]
    return Readiness(
        kind="uplift",
        model="uplift (who responds to an intervention, CatBoost)",
        ready=total >= MIN_OUTCOMES and 0 < held_out < total,
        needs=f"{MIN_OUTCOMES} stored outcomes of completed campaigns, in the treated arms and the holdout",
        has=f"{total} outcomes, {held_out} in the holdout",
        fallback="the measured lift of each intervention against its holdout (no per-customer uplift)",
    )
