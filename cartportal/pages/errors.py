"""The portal's error pages (the URLconf's handlers choose JSON under /api/ and these elsewhere)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    return render(request, "403.html", status=403)


def bad_request(request, exception=None):
    return render(request, "400.html", status=400)


def server_error(request):
    """Rendered without the request context: the database may be what failed."""
    return HttpResponseServerError(loader.get_template("500.html").render())


def unavailable(request, reason: str) -> HttpResponse:
    """503 with Retry-After when the database is down or a statement ran out of time: the API's error shape under
    /api/, else a page rendered without the request context (which could need the database)."""
    if request.path.startswith("/api/"):
        from cartportal.api.base import error_body

        response = JsonResponse(error_body(503, reason, code="unavailable"), status=503)
    else:
        response = HttpResponse(loader.get_template("503.html").render({"reason": reason}), status=503)
    response["Retry-After"] = str(settings.CARTPORTAL_WEB_RETRY_AFTER_SECONDS)
    return response
