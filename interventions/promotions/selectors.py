"""Reads of the weekly promotions; every one starts from the user's region scope."""

from __future__ import annotations

import datetime as dt

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
