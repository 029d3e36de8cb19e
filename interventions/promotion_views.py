"""The weekly promotions page (filter, CSV export per region, fairness check) and its generate button."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cartportal.access import visible_regions
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import region_filter
from cartportal.services import DomainError
from interventions import fairness
from interventions.models import PromotionBase
from interventions.promotions import selectors, services

CSV_HEADER = selectors.OFFER_FIELDS


def _csv_rows(offers):
    for o in offers.iterator(chunk_size=2000):
        yield [
            o.week_start.isoformat(),
            o.region.code,
            o.customer.external_id,
            o.rank,
            o.category,
            o.discount_rate,
            o.predicted_order_value,
            o.base,
            o.relation,
        ]


def _week(request) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.GET["week"]) if request.GET.get("week") else None
    except ValueError:
        return None


@login_required
def promotions(request):
    rf = region_filter(request)
    weeks = selectors.promotion_weeks(request.user, rf.region_ids)
    week = _week(request) or (weeks[0] if weeks else None)
    base = request.GET.get("base", "") if request.GET.get("base", "") in PromotionBase.values else ""
    offers = selectors.promotions_for(
        request.user, region_ids=rf.region_ids, week=week, base=base, category=request.GET.get("category", "")
    )
    if wants_csv(request):
        name = f"promotions_{rf.code or 'all'}_{week or 'none'}.csv"
        return csv_response(name, CSV_HEADER, _csv_rows(offers))
    return render(
        request,
        "interventions/promotions.html",
        {
            "page": Paginator(offers, 50).get_page(request.GET.get("page")),
            "region_filter": rf,
            "weeks": weeks,
            "week": week,
            "base": base,
            "bases": PromotionBase.choices,
            "discounts": services.DISCOUNT_BY_RELATION,
            "checks": selectors.holdout_checks(offers, rf.region_ids),
            "fairness": fairness.promotion_fairness(request.user, region_ids=rf.region_ids, week=week),
            "can_generate": visible_regions(request.user, "change").exists(),
        },
    )


@login_required
@require_POST
def promotions_generate(request):
    """Queue this week's promotions for the chosen region (or every region the user may change)."""
    code = request.POST.get("region", "")
    changeable = visible_regions(request.user, "change")
    region_ids = list(changeable.filter(code=code).values_list("pk", flat=True)) if code else None
    if code and not region_ids:
        raise Http404("No region matches the given query.")  # a foreign region answers like a missing one
    try:
        job = services.promotions_generate_start(actor=request.user, region_ids=region_ids)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("interventions:promotions")
    if job.region_id is None:  # several regions: the job is listed on the Jobs tab for global roles
        messages.info(request, f"Promotions job #{job.pk} queued for {len(job.parameters['region_ids'])} regions.")
        return redirect("interventions:promotions")
    return redirect("portal:job", job_id=job.pk)
