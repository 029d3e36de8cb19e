"""Request ids (every request gets one; audit rows written during the request carry it) and the pages' answer to
an application error."""

import uuid

from django.shortcuts import render

from cartportal.audit import request_context
from cartportal.errors import AppError


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

    TEMPLATES = {403: "403.html", 404: "404.html", 409: "409.html"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, AppError):
            return None
        template = self.TEMPLATES.get(exception.status, "400.html")
        return render(request, template, {"reason": exception.message}, status=exception.status)
