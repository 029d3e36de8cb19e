"""The portal's error pages (the URLconf's handlers choose JSON under /api/ and these elsewhere)."""

from __future__ import annotations

from django.http import HttpResponseServerError
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
