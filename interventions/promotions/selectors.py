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


def holdout_checks(offers, limit: int = 10) -> list[dict]:
    """How the offers shown were checked: per generation job behind `offers`, its holdout figures (the offers'
    next-purchase hit rate against the region's three best-sellers, with the interval of the difference) and
    what the offers were ranked by."""
    job_ids = list(offers.order_by().exclude(job__isnull=True).values_list("job_id", flat=True).distinct()[:limit])
    checks = []
    for job in JobRun.objects.filter(pk__in=job_ids).order_by("-pk"):
        counts = job.counts or {}
        if "next_purchase_hit_rate" not in counts:
            continue
        region_ids = (job.parameters or {}).get("region_ids") or []
        codes = Region.objects.filter(pk__in=region_ids).order_by("code").values_list("code", flat=True)
        checks.append(
            {
                "regions": ", ".join(codes) or "all",
                "buyers": counts.get("next_purchase_buyers"),
                "hit_rate": counts["next_purchase_hit_rate"],
                "best_sellers": counts.get("best_sellers_next_purchase_hit_rate"),
                "margin": counts.get("next_purchase_margin"),
                "low": counts.get("next_purchase_margin_low"),
                "high": counts.get("next_purchase_margin_high"),
                "windows_back": counts.get("holdout_windows_back", 1),
                "ranked_by": counts.get("ranked_by", "model"),
            }
        )
    return checks
