"""Segment pages: thin views over the selectors (the API reads the same ones)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from cartportal.access import can, get_scoped_or_404, visible_regions
from cartportal.jobs import job_create
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import analysis_filter, region_filter
from segments import selectors
from segments.audiences.rules import EXAMPLE_RULES
from segments.models import AudienceDefinition
from segments.services import UNIVERSES, SegmentError, audience_create, audience_delete, changeable_region_or_404

KINDS = {
    "value_group": "Value groups",
    "rfm": "RFM segments",
    "promotion_base": "Promotion base",
    "persona": "Personas",
}


@login_required
def index(request):
    rf = analysis_filter(request)
    if rf.active:
        rows = selectors.segment_summary_filtered(request.user, region_ids=rf.region_ids, flt=rf)
    else:
        rows = selectors.segment_summary(request.user, region_ids=rf.region_ids)
    if wants_csv(request):
        header = ["kind", "code", "name", "size", "dormant_size", "monetary_total"]
        return csv_response("segments.csv", header, ([r[h] for h in header] for r in rows))
    groups = {label: [r for r in rows if r["kind"] == kind] for kind, label in KINDS.items()}
    context = {"region_filter": rf, "filters": rf, "groups": groups, "kinds": KINDS}
    return render(request, "segments/index.html", context)


@login_required
def rebuild(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    from cartportal.access import region_ids_for
    from segments.tasks import rebuild_segments

    ids = region_ids_for(request.user, "change")
    if ids == []:
        messages.error(request, "You may not rebuild segments in any region.")
        return redirect("segments:index")
    job = job_create(kind="segments.rebuild", actor=request.user, parameters={"region_ids": ids})
    transaction.on_commit(lambda: rebuild_segments.delay(job.pk, ids))
    messages.info(request, f"Segment rebuild #{job.pk} queued; follow it on the Jobs tab.")
    return redirect("segments:index")


def _flag(value: str) -> bool | None:
    return {"1": True, "true": True, "0": False, "false": False}.get(value.lower())


@login_required
def members(request):
    rf = analysis_filter(request)
    kind, code = request.GET.get("kind", "value_group"), request.GET.get("code", "")
    dormant = _flag(request.GET.get("dormant", ""))
    qs = selectors.segment_members(
        request.user, region_ids=rf.region_ids, kind=kind, code=code, dormant=dormant, flt=rf
    )
    if wants_csv(request):
        header = [
            "customer",
            "region",
            "recency_days",
            "frequency",
            "monetary",
            "r",
            "f",
            "m",
            "rfm_segment",
            "value_group",
            "dormant",
            "promotion_base",
            "persona",
        ]
        rows = (
            [
                p.customer.external_id,
                p.region.code,
                p.recency_days,
                p.frequency,
                p.monetary,
                p.r_score,
                p.f_score,
                p.m_score,
                p.rfm_segment,
                p.value_group,
                p.dormant,
                p.promotion_base,
                p.persona,
            ]
            for p in qs.iterator(chunk_size=2000)
        )
        return csv_response(f"segment-{kind}-{code or 'all'}.csv", header, rows)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    keep = [("kind", kind), ("code", code), ("dormant", request.GET.get("dormant", ""))]
    context = {
        "region_filter": rf,
        "filters": rf,
        "keep": [(name, value) for name, value in keep if value],
        "page": page,
        "kind": kind,
        "code": code,
        "dormant": dormant,
        "kind_label": KINDS.get(kind, kind),
    }
    return render(request, "segments/members.html", context)


@login_required
def personas(request):
    rf = analysis_filter(request)
    latest = selectors.latest_persona_runs(request.user, region_ids=rf.region_ids)
    runs = [selectors.persona_payload(r) for r in latest]
    if rf.active:
        runs = _filtered_sizes(runs, latest, selectors.persona_sizes_filtered(request.user, latest, rf))
    if wants_csv(request):
        rows = (
            [r["region"], p["name"], p["size"], r["k"], r["stability_ari"], r["unstable"], json.dumps(p["means"])]
            for r in runs
            for p in r["profiles"]
        )
        return csv_response(
            "personas.csv", ["region", "persona", "size", "k", "stability_ari", "unstable", "means"], rows
        )
    # the charts get exactly the API's payload; the table (means in feature order) is for the page only
    shown = [{**run, "table": _profile_table(run)} for run in runs]
    context = {"region_filter": rf, "filters": rf, "runs": runs, "shown": shown}
    return render(request, "segments/personas.html", context)


def _filtered_sizes(runs: list[dict], latest: list, sizes: dict[tuple[int, str], int]) -> list[dict]:
    """The runs with each persona's size (and the run's customers) counted among the filtered customers."""
    shown = []
    for run, model in zip(runs, latest, strict=True):
        profiles = [{**p, "size": sizes.get((model.region_id, p["name"]), 0)} for p in run["profiles"]]
        shown.append({**run, "profiles": profiles, "customers": sum(p["size"] for p in profiles)})
    return shown


def _profile_table(run: dict) -> list[dict]:
    """Each persona's means in the order of the run's feature columns. The means are stored as a JSON object,
    whose key order the database does not keep, so the table must look them up by name."""
    return [
        {"name": p["name"], "size": p["size"], "means": [p["means"].get(f) for f in run["features"]]}
        for p in run["profiles"]
    ]


@login_required
def transitions(request):
    rf = analysis_filter(request)
    kinds = selectors.transition_kinds(request.user, region_ids=rf.region_ids)
    kind = request.GET.get("kind", "")
    kind = kind if kind in dict(kinds) else "value_group"
    data = selectors.transitions(request.user, region_ids=rf.region_ids, kind=kind, flt=rf)
    if wants_csv(request):
        rows = ([a, b, data["cells"][a][b]] for a in data["states"] for b in data["states"] if data["cells"][a][b])
        return csv_response("transitions.csv", ["from_state", "to_state", "customers"], rows)
    table = [(a, [data["cells"][a][b] for b in data["states"]], data["totals"][a]) for a in data["states"]]
    context = {
        "region_filter": rf,
        "filters": rf,
        "keep": [("kind", kind)],
        "data": data,
        "table": table,
        "kinds": kinds,
        "kind": kind,
    }
    return render(request, "segments/transitions.html", context)


@login_required
def audiences(request):
    rf = region_filter(request)
    if request.method == "POST":
        return _create_audience(request)
    qs = selectors.audiences(request.user, region_ids=rf.region_ids)
    if wants_csv(request):
        rows = ([a.pk, a.region.code, a.name, a.universe, a.evaluated_at] for a in qs)
        return csv_response("audiences.csv", ["id", "region", "name", "universe", "evaluated_at"], rows)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    regions = visible_regions(request.user, "change")
    example = json.dumps(EXAMPLE_RULES, indent=1)
    return render(
        request,
        "segments/audiences.html",
        {"region_filter": rf, "page": page, "regions": regions, "universes": UNIVERSES, "example": example},
    )


def _create_audience(request):

    region = changeable_region_or_404(request.user, request.POST.get("region", ""))
    try:
        rules = json.loads(request.POST.get("rules") or "[]")
        weights = json.loads(request.POST.get("weights") or "{}")
        max_size = int(request.POST["max_size"]) if request.POST.get("max_size") else None
        audience = audience_create(
            actor=request.user,
            region=region,
            name=request.POST.get("name", ""),
            universe=request.POST.get("universe", "all"),
            rules=rules,
            min_size=int(request.POST.get("min_size") or 0),
            max_size=max_size,
            policy=request.POST.get("policy", "flag"),
            weights=weights,
            catch_all_name=request.POST.get("catch_all_name") or "Everyone else",
        )
    except (ValueError, SegmentError) as error:
        messages.error(request, f"The audience was not saved: {error}")
        return redirect("segments:audiences")
    return redirect("segments:audience", pk=audience.pk)


@login_required
def audience_detail(request, pk: int):
    if request.method == "POST" and request.POST.get("action") == "delete":
        return _delete_audience(request, pk)
    audience = get_scoped_or_404(AudienceDefinition.objects, request.user, pk=pk)
    segments = audience.result.get("segments", [])
    fmt = request.GET.get("format")
    if fmt == "json":
        body = json.dumps(
            {
                "id": audience.pk,
                "name": audience.name,
                "region": audience.region.code,
                "universe": audience.universe,
                "rules": audience.rules,
                "min_size": audience.min_size,
                "max_size": audience.max_size,
                "policy": audience.policy,
                **audience.result,
            },
            indent=1,
        )
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="audience-{audience.pk}.json"'
        return response
    if wants_csv(request):
        header = [
            "segment",
            "size",
            "share",
            "conversion_potential",
            "conversion_source",
            "measured_lift",
            "profitability",
            "engagement",
            "strategic_fit",
            "overall",
            "valid",
            "flags",
        ]
        rows = ([s.get(h) if h != "flags" else "; ".join(s["flags"]) for h in header] for s in segments)
        return csv_response(f"audience-{audience.pk}.csv", header, rows)
    chart = [
        {
            "segment": s["segment"],
            "overall": s["overall"],
            "profitability": s["profitability"],
            "engagement": s["engagement"],
            "size": s["size"],
            "valid": s["valid"],
        }
        for s in segments
    ]
    page = Paginator(selectors.audience_members(request.user, audience), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "segments/audience.html",
        {
            "audience": audience,
            "segments": segments,
            "chart": chart,
            "page": page,
            "may_delete": can(request.user, "change", audience.region_id),
        },
    )


def _delete_audience(request, pk: int):
    audience_delete(actor=request.user, audience_id=pk)
    messages.info(request, "The audience was deleted.")
    return redirect("segments:audiences")
