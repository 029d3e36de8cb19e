"""Reads of the weekly promotions; every one starts from the user's region scope."""

from __future__ import annotations

import datetime as dt

from cartportal.models import JobRun, Region
from interventions.models import PromotionOffer

# What an offer shows in the page's CSV export and in the API, in this order (the customer and region by code).
OFFER_FIELDS = [
    "week_start",
    "region",
    "customer",
    "rank",
    "category",
    "discount_rate",
    "predicted_order_value",
    "base",
    "relation",
]


def promotion_weeks(user, region_ids: list[int] | None = None) -> list[dt.date]:
    qs = PromotionOffer.objects.restrict(user, "view")
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    return list(qs.order_by("-week_start").values_list("week_start", flat=True).distinct()[:52])


def promotions_for(
    user, *, region_ids: list[int] | None = None, week: dt.date | None = None, base: str = "", category: str = ""
):
    """Offers of one week (default: the latest the user can see), filtered by region, base and category."""
    qs = PromotionOffer.objects.restrict(user, "view").select_related("customer", "region")
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    if week is None:
        weeks = promotion_weeks(user, region_ids)
        week = weeks[0] if weeks else None
    qs = qs.filter(week_start=week) if week else qs.none()
    if base:
        qs = qs.filter(base=base)
    if category:
        qs = qs.filter(category=category)
    return qs.order_by("region__code", "customer__external_id", "rank")


def holdout_checks(offers, region_ids: list[int], limit: int = 50) -> list[dict]:
    """How the offers shown were checked, one row per region of the page (`offers` and `region_ids` already went
    through the user's scope, so no other region's figures are shown): the offers' next-purchase hit rate against
    the region's three best-sellers on the region's buyers of the holdout window, the interval of the difference,
    and what the generation job ranked the offers by (its gate looks at all the job's regions together)."""
    checks = []
    regions = list(Region.objects.filter(pk__in=region_ids).order_by("code")[:limit])
    # one indexed read per region (region, week): the job that wrote the region's offers of the week; then the
    # jobs themselves in one query (a job over several regions is read once)
    job_ids = {
        region.pk: offers.filter(region_id=region.pk, job__isnull=False).values_list("job_id", flat=True).first()
        for region in regions
    }
    jobs = JobRun.objects.in_bulk({job_id for job_id in job_ids.values() if job_id})
    for region in regions:
        job = jobs.get(job_ids[region.pk])
        counts = (job.counts or {}) if job else {}
        figures = (counts.get("by_region") or {}).get(str(region.pk))
        if not figures:
            continue
        checks.append(
            {
                "region": region.code,
                "buyers": figures["next_purchase_buyers"],
                "hit_rate": figures["next_purchase_hit_rate"],
                "best_sellers": figures["best_sellers_next_purchase_hit_rate"],
                "margin": figures["next_purchase_margin"],
                "low": figures["next_purchase_margin_low"],
                "high": figures["next_purchase_margin_high"],
                "windows_back": counts.get("holdout_windows_back", 1),
                "ranked_by": counts.get("ranked_by", "model"),
                "job_regions": len((job.parameters or {}).get("region_ids") or []),
            }
        )
    return checks
