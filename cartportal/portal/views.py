from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render

from cartportal import selectors
from cartportal.access import ADMIN, EXECUTIVE, get_scoped_or_404, has_role, visible_regions
from cartportal.models import AuditEvent, JobRun
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import analysis_filter

from .forms import AuditFilterForm
from .selectors import audit as audit_selectors
from .selectors import executive as executive_selectors
from .selectors import home as home_selectors
from .selectors import insights as insights_selectors
from .services import audit_export_record, home_visit_record, notifications_set, preference_of
from .tables import INSIGHT_TABLES, insight_csv

PAGE_SIZE = 50


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request):
    """What needs me today, by role (see `selectors.home`); other users see the regions they may read."""
    user = request.user
    seen_at = home_visit_record(actor=user)
    home_data = home_selectors.home_for(user, seen_at=seen_at)
    currencies = dict(visible_regions(user).values_list("code", "currency"))
    for cart in home_data.get("carts") or []:
        cart["currency"] = currencies.get(cart["region"], "")
    context = {"home": home_data, "notify": preference_of(user).email_notifications}
    if not home_data["sections"]:
        counts = insights_selectors.region_customers(user)
        context["regions"] = [
            {"code": r.code, "name": r.name, "customers": counts.get(r.pk, 0)} for r in visible_regions(user)
        ]
    return render(request, "portal/home.html", context)


@login_required
def preferences(request):
    """A person's own settings: e-mail notifications, off until they turn them on."""
    if request.method == "POST":
        wanted = request.POST.get("email_notifications") == "on"
        notifications_set(actor=request.user, email_notifications=wanted)
        messages.success(request, "E-mail notifications are on." if wanted else "E-mail notifications are off.")
        return redirect("portal:preferences")
    context = {"preference": preference_of(request.user), "sections": home_selectors.roles_of(request.user)}
    return render(request, "portal/preferences.html", context)


@login_required
def insights(request):
    flt = analysis_filter(request)
    user = request.user
    data = {
        "affinity": flt.read(insights_selectors.category_affinity, user),
        "price": flt.read(insights_selectors.price_sensitivity, user),
        "depth": flt.read(insights_selectors.browsing_depth, user),
        "frequency": flt.read(insights_selectors.purchase_frequency, user),
        # survey answers carry a region only: the other filters do not apply to them (the page says so)
        "survey": insights_selectors.survey_summary(user, flt.region_ids),
    }
    if wants_csv(request):
        return insight_csv(data, request.GET.get("table", ""), flt.code)
    page = Paginator(data["affinity"]["categories"], PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/insights.html",
        {"region_filter": flt, "filters": flt, "data": data, "categories_page": page, "tables": INSIGHT_TABLES},
    )


def _executive_allowed(user) -> bool:
    return user.is_superuser or has_role(user, EXECUTIVE, ADMIN)


@login_required
def executive(request):
    if not _executive_allowed(request.user):
        return render(request, "403.html", {"reason": "The executive rollup is for executives."}, status=403)
    rf = analysis_filter(request)
    rollup = executive_selectors.regional_rollup(request.user, rf.region_ids, flt=rf)
    if wants_csv(request):
        return csv_response(
            "executive-rollup.csv", executive_selectors.CSV_COLUMNS, executive_selectors.rollup_csv_rows(rollup)
        )
    page = Paginator(rollup["regions"], PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"region_filter": rf, "filters": rf, "rollup": rollup, "page": page}
    return render(request, "portal/executive.html", context)


@login_required
def audit_log(request):
    user = request.user
    form = AuditFilterForm(request.GET or None, user=user)
    filters = form.filters() if request.GET else audit_selectors.AuditFilters()
    events = audit_selectors.audit_events(user, filters) if filters is not None else AuditEvent.objects.none()
    if wants_csv(request) and audit_selectors.may_read_audit(user):
        audit_export_record(actor=user, filters=filters.as_dict() if filters else {}, rows=events.count())
        return csv_response("audit-log.csv", audit_selectors.CSV_COLUMNS, audit_selectors.audit_csv_rows(events))
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = audit_selectors.with_actor_names(page.object_list)
    context = {"page": page, "form": form, "chain": audit_selectors.chain_status(user)}
    context["may_read"] = audit_selectors.may_read_audit(user)
    return render(request, "portal/audit.html", context)


@login_required
def job_list(request):
    # "mine" by default: the first thing a user looks for is the job they just started.
    mine = request.GET.get("who") != "all"
    jobs = selectors.job_list(request.user, mine=mine)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/jobs.html", {"page": page, "mine": mine})


@login_required
def job_detail(request, job_id: int):
    job = get_scoped_or_404(JobRun.objects.select_related("region", "started_by"), request.user, pk=job_id)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(
            {"id": job.pk, "state": job.state, "progress": job.progress, "message": job.message, "counts": job.counts}
        )
    return render(request, "portal/job.html", {"job": job})
