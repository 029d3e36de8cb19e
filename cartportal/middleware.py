"""Request ids (every request gets one; audit rows written during the request carry it), the pages' answer to
an application error, and the web hardening every request goes through: input guards (NUL bytes), security headers
(Content-Security-Policy, no caching of authenticated answers) and the idle timeout of portal sessions."""

from __future__ import annotations

import time
import uuid
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import render

from cartportal.audit import request_context
from cartportal.capacity import database_unavailable
from cartportal.errors import AppError
from cartportal.pages.errors import unavailable


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        with request_context(request.request_id):
            response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class AppErrorMiddleware:
    """An application error that escapes a page view answers the status of its code (`cartportal.errors`, the
    same table as the API) with the error page and its message. The API's handler answers its own paths."""

    TEMPLATES = {403: "403.html", 404: "404.html", 409: "409.html", 413: "413.html"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        reason = database_unavailable(exception)  # a statement timeout or a database outage: 503, not a 500
        if reason:
            return unavailable(request, reason)
        if not isinstance(exception, AppError):
            return None
        template = self.TEMPLATES.get(exception.status, "400.html")
        return render(request, template, {"reason": exception.message}, status=exception.status)


def app_error_response(request, error: AppError):
    """The one answer to an application error outside a view: the API's error body under /api/, the error page
    elsewhere; the status comes from the code (`cartportal.errors.STATUS_BY_CODE`)."""
    if request.path.startswith("/api/"):
        from cartportal.api.base import error_body

        return JsonResponse(error_body(error.status, error.message, code=error.code), status=error.status)
    template = AppErrorMiddleware.TEMPLATES.get(error.status, "400.html")
    return render(request, template, {"reason": error.message}, status=error.status)


class InputGuardMiddleware:
    """NUL bytes in the path, the query string or a form body answer 400 before any view reads them: PostgreSQL
    refuses them in text, which otherwise surfaces as a 500 wherever a parameter reaches a query. JSON bodies are
    checked by the API's parser (`cartportal.api.parsers`), uploaded files are data and are left alone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            self.check(request)
        except AppError as error:
            return app_error_response(request, error)
        return self.get_response(request)

    @staticmethod
    def check(request) -> None:
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            raise AppError("The address contains a NUL character.", "invalid")
        if not request.META.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # a larger form is refused by Django itself when read
        if (limit is None or length <= limit) and b"\x00" in unquote_to_bytes(request.body):
            raise AppError("The form contains a NUL character.", "invalid")


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every answer (scripts only from our static files), and `Cache-Control:
    no-store` on every answer to a logged-in user or a token, so that no shared or browser cache keeps them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        user = getattr(request, "user", None)
        if "HTTP_AUTHORIZATION" in request.META or (user is not None and user.is_authenticated):
            response["Cache-Control"] = "no-store"
        return response


class IdleTimeoutMiddleware:
    """A portal session ends after `CARTPORTAL_SESSION_IDLE_SECONDS` without a request. The last-seen time is
    written at most once a minute, so that reading pages does not write the session on every request."""

    KEY = "_cp_last_seen"
    TOUCH_EVERY = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        idle = settings.CARTPORTAL_SESSION_IDLE_SECONDS
        session = getattr(request, "session", None)
        if idle and session is not None and request.user.is_authenticated:
            now = int(time.time())
            last = session.get(self.KEY)
            if last is not None and now - int(last) > idle:
                logout(request)  # the view then sees an anonymous user: pages go to the login, the API answers 401
            elif last is None or now - int(last) >= self.TOUCH_EVERY:
                session[self.KEY] = now
        return self.get_response(request)
