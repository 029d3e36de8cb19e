from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from cartportal import selectors
from cartportal.access import get_scoped_or_404


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request):
    return render(request, "portal/home.html", {"regions": selectors.region_overview(request.user)})


@login_required
def audit_log(request):
    events = selectors.audit_events(
        request.user,
        action=request.GET.get("action", ""),
        region_code=request.GET.get("region", ""),
        actor=request.GET.get("actor", ""),
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "portal/audit.html", {"page": page})


@login_required
def job_list(request):
    page = Paginator(selectors.job_list(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "portal/jobs.html", {"page": page})


@login_required
def job_detail(request, job_id: int):
    job = get_scoped_or_404(selectors.job_list(request.user).model.objects, request.user, pk=job_id)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(
            {"id": job.pk, "state": job.state, "progress": job.progress, "message": job.message, "counts": job.counts}
        )
    return render(request, "portal/job.html", {"job": job})


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    return HttpResponse("<h1>Something went wrong</h1><p>The error was logged. Please try again.</p>", status=500)
