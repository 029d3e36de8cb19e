"""Models tab, model card and CLV tab. Thin: parse input, call one selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cartportal.access import MANAGE_MODELS, has_capability
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import analysis_filter, region_filter
from cartportal.selectors import job_list

from . import selectors, services
from .models import Kind


def can_manage_models(user) -> bool:
    """Whether to offer the model buttons; the services decide (`cartportal.access.authorize`)."""
    return has_capability(user, MANAGE_MODELS)


@login_required
def model_list(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in Kind.values else ""
    versions = selectors.model_versions(request.user, kind)
    if wants_csv(request):
        header = [
            "id",
            "kind",
            "algorithm",
            "status",
            "refusal_reason",
            "window_start",
            "window_end",
            "holdout",
            "metrics",
            "checksum",
        ]
        rows = (
            [
                v.pk,
                v.kind,
                v.algorithm,
                v.status,
                v.refusal_reason,
                v.window_start,
                v.window_end,
                v.holdout_fingerprint,
                v.metrics,
                v.checksum,
            ]
            for v in versions
        )
        return csv_response("model_versions.csv", header, rows)
    context = {
        "page": Paginator(versions, 25).get_page(request.GET.get("page")),
        "kind": kind,
        "kinds": Kind.values,
        "overview": selectors.kinds_overview(request.user),
        "runs": (runs := selectors.recent_runs(limit=10)),
        "followable_jobs": _followable_jobs(request.user, runs),
        "drift": selectors.drift_reports(limit=12),
        "flagged": selectors.flagged_drift(),
        "can_manage": can_manage_models(request.user),
    }
    return render(request, "predictions/models.html", context)


def _followable_jobs(user, runs) -> set[int]:
    """The jobs of these runs that the user may open: a run started for all regions by the nightly task links its
    job only for those who may follow it (otherwise the link would answer 404)."""
    return set(job_list(user).filter(pk__in=[r.job_id for r in runs if r.job_id]).values_list("pk", flat=True))


@login_required
def model_card(request, pk: int):
    version = selectors.model_version(pk)
    if version is None:
        raise Http404("No model version matches the given query.")
    context = {
        "version": version,
        "drift": selectors.drift_reports(version.kind, limit=6),
        "runs": version.runs.order_by("-created_at")[:10],
        "can_manage": can_manage_models(request.user),
    }
    return render(request, "predictions/model_card.html", context)


def _model_action(request, action) -> object:
    if not can_manage_models(request.user):
        return HttpResponseForbidden("Only analysts and administrators manage models.")
    try:
        message = action()
    except services.PredictionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message)
    return redirect("predictions:models")


@login_required
@require_POST
def model_activate(request, pk: int):
    version = selectors.model_version(pk)
    if version is None:
        raise Http404("No model version matches the given query.")
    reason = request.POST.get("reason", "")[:300]

    def act():
        services.model_activate(actor=request.user, version=version, reason=reason)
        return f"{version.kind} version {version.pk} is now active."

    return _model_action(request, act)


@login_required
@require_POST
def model_rollback(request, kind: str):
    if kind not in Kind.values:
        raise Http404("No such model kind.")

    def act():
        version = services.model_rollback(actor=request.user, kind=kind)
        return f"Rolled back: {kind} version {version.pk} is active again."

    return _model_action(request, act)


@login_required
@require_POST
def rescore(request, kind: str):
    if kind not in Kind.values:
        raise Http404("No such model kind.")

    def act():
        run = services.rescore_start(actor=request.user, kind=kind)
        return f"Rescoring {run.expected_rows} customers in {run.chunk_count} chunks (job {run.job_id})."

    return _model_action(request, act)


@login_required
@require_POST
def retrain(request, kind: str):
    if kind not in Kind.values:
        raise Http404("No such model kind.")

    def act():
        job = services.retrain_start(actor=request.user, kind=kind)
        return f"Retraining the {kind} model (job {job.pk})."

    return _model_action(request, act)


@login_required
def clv(request):
    rf = analysis_filter(request)
    rows = rf.read(selectors.clv_by_cohort_and_region, request.user)
    if wants_csv(request):
        header = ["cohort", "region", "customers", "value_to_date", "predicted_12m"]
        return csv_response("clv_by_cohort.csv", header, ([r[h] for h in header] for r in rows))
    payback = rf.read(selectors.payback_by_source, request.user)
    curves = rf.read(selectors.cohort_value_curves, request.user)
    chart = {
        "regions": _by_region(rows),
        "curves": curves,
        "payback": [p for p in payback if p["payback_months"] is not None],
    }
    run = selectors.latest_run(Kind.VALUE)
    context = {
        "rf": rf,
        "page": Paginator(rows, 50).get_page(request.GET.get("page")),
        "payback": payback,
        "run": run,
        "forecast": selectors.forecast_label(run.model_version if run else None),
        "chart": chart,
        "has_rows": bool(rows),
    }
    return render(request, "predictions/clv.html", context)


def _by_region(rows: list[dict]) -> list[dict]:
    totals: dict[str, dict] = {}
    for row in rows:
        entry = totals.setdefault(row["region"], {"region": row["region"], "value_to_date": 0.0, "predicted_12m": 0.0})
        entry["value_to_date"] += row["value_to_date"]
        entry["predicted_12m"] += row["predicted_12m"] or 0.0
    return list(totals.values())


@login_required
def readiness(request):
    rf = region_filter(request)
    rows = selectors.readiness_by_region(request.user, rf.region_ids)
    if wants_csv(request):
        header = ["region", "kind", "ready", "active", "needs", "has", "fallback"]
        return csv_response("model_readiness.csv", header, ([r[h] for h in header] for r in rows))
    context = {"rf": rf, "page": Paginator(rows, 50).get_page(request.GET.get("page")), "has_rows": bool(rows)}
    return render(request, "predictions/readiness.html", context)
