"""Request ids: every request gets one; audit rows written during the request carry it."""

import uuid

from cartportal.audit import request_context


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        with request_context(request.request_id):
            response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response
