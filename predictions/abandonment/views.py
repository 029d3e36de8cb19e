from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import analysis_filter
from predictions.abandonment import selectors
from predictions.abandonment.cart.features import DRIVER_LABELS

CSV_COLUMNS = [
    "cart_session",
    "region",
    "category",
    "last_change",
    "cart_value",
    "abandon_probability",
    "expected_loss",
    "reason_1",
    "reason_2",
    "proposed_intervention",
]


def _csv_row(r: dict) -> list:
    reasons = [*r["reasons"], "", ""][:2]
    return [
        r["external_id"],
        r["region"],
        r["category"],
        r["changed_at"],
        r["cart_value"],
        r["probability"],
        r["expected_loss"],
        *reasons,
        r["intervention"],
    ]


@login_required
def abandonment(request):
    rf = analysis_filter(request)
    risk = selectors.at_risk(request.user, rf.region_ids)
    rows, by_region, by_category = risk.rows, risk.drivers_by_region, risk.drivers_by_category
    if rf.active:
        rows = selectors.carts_matching(rows, rf)
        if risk.scored:
            by_region, by_category = selectors.drivers_of(rows)
    if wants_csv(request):
        return csv_response("abandonment_risk.csv", CSV_COLUMNS, (_csv_row(r) for r in rows))
    funnel = rf.read(selectors.funnel, request.user)
    chart = {
        "funnel": funnel,
        "drivers": list(DRIVER_LABELS),
        "driverLabels": DRIVER_LABELS,
        "byRegion": by_region,
        "byCategory": by_category,
    }
    context = {
        "region_filter": rf,
        "filters": rf,
        "risk": risk,
        "page": Paginator(rows, 25).get_page(request.GET.get("page")),
        "funnel": funnel,
        "funnel_as_of": selectors.funnel_cutoff(),
        "chart": chart,
        "review_friction": selectors.review_friction_by_category(request.user, rf.region_ids),
    }
    return render(request, "predictions/abandonment.html", context)


@login_required
def abandonment_session(request, pk: int):
    explanation = selectors.session_explanation(request.user, pk)
    return render(request, "predictions/abandonment_session.html", explanation)
