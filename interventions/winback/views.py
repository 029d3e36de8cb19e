"""The Win back page (ranked dormant customers, measured lift against a random pick, CSV) and its draft button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cartportal.access import visible_regions
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import region_filter
from cartportal.services import DomainError
from interventions.catalogue import CATALOGUE, WINBACK
from interventions.winback import services
from predictions.winback.selectors import winback_ready

CSV_HEADER = ["rank", "customer_id", "probability", "predicted_spend", "expected_value", "days_since_last"]
CSV_HEADER += ["orders", "spend"]
DEFAULT_TOP = 100
COMPUTING = (
    "The win-back list of this region is being computed on a worker "
    "(a model is chosen, fitted and measured on the order history)."
)


def _rows(ranked) -> list[dict]:
    return [
        {
            "rank": rank,
            "customer_id": customer,
            "probability": round(float(row.probability), 3),
            "predicted_spend": round(float(row.predicted_spend), 2),
            "expected_value": round(float(row.expected_value), 2),
            "days_since_last": int(row.days_since_last),
            "orders": int(row.invoices),
            "spend": round(float(row.past_spend), 2),
        }
        for rank, (customer, row) in enumerate(ranked.iterrows(), start=1)
    ]


def _draft_region(request, rf):
    """The region a draft would target: the chosen one, or the only one the user may change."""
    changeable = list(visible_regions(request.user, "change"))
    if rf.selected is not None:
        return rf.selected if rf.selected in changeable else None
    return changeable[0] if len(changeable) == 1 and len(rf.regions) == 1 else None


@login_required
def winback(request):
    rf = region_filter(request)
    # one region at a time: a model per region, and no fit over every region of a large installation per request
    single = rf.selected is not None or len(rf.regions) == 1
    found = winback_ready(request.user, rf.region_ids) if single else None
    computing = single and found is None
    rows = _rows(found.ranked) if found is not None else []
    if wants_csv(request) and computing:
        response = HttpResponse(COMPUTING + " Try the export again in a minute.\n", status=503)
        response["Content-Type"], response["Retry-After"] = "text/plain; charset=utf-8", "60"
        return response
    if wants_csv(request):
        return csv_response(f"winback_{rf.code or 'all'}.csv", CSV_HEADER, ([r[k] for k in CSV_HEADER] for r in rows))
    return render(
        request,
        "interventions/winback.html",
        {
            "region_filter": rf,
            "found": found,
            "computing": COMPUTING if computing else "",
            "page": Paginator(rows, 50).get_page(request.GET.get("page")),
            "draft_region": _draft_region(request, rf),
            "interventions": [CATALOGUE[c] for c in WINBACK],
            "default_top": min(DEFAULT_TOP, len(rows)) or DEFAULT_TOP,
        },
    )


@login_required
@require_POST
def winback_draft(request):
    code = request.POST.get("region", "")
    region = visible_regions(request.user, "change").filter(code=code).first() if code else None
    if region is None:
        raise Http404("No region matches the given query.")  # a foreign region answers like a missing one
    try:
        top = int(request.POST.get("top", DEFAULT_TOP))
        campaign = services.winback_campaign_draft(
            actor=request.user,
            region=region,
            intervention=request.POST.get("intervention", ""),
            top=top,
            reason=request.POST.get("reason", "").strip(),
        )
    except ValueError:
        messages.error(request, "the number of customers must be a whole number")
        return redirect(f"/interventions/winback/?region={region.code}")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(f"/interventions/winback/?region={region.code}")
    messages.success(request, f"Drafted “{campaign.name}”; submit it for approval from its page.")
    return redirect("interventions:campaign", pk=campaign.pk)
