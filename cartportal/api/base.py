"""The API's shared parts: partner token authentication, scope permission, one error body shape.

Every error answers `{"error": {"status", "code", "message", "fields"}}`. A foreign-region object answers
404 exactly like a missing one (the scoping path raises Http404 for both).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from cartportal.services import DomainError


def error_body(status: int, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        exc = exceptions.ValidationError({"detail": str(exc)})
        exc.default_code = "invalid"
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    fields, message = {}, ""
    if isinstance(detail, dict):
        message = str(detail.pop("detail", "")) if "detail" in detail else ""
        fields = {k: [str(e) for e in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
        if not message:
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()) or "Invalid request."
    elif isinstance(detail, list):
        message = " ".join(str(d) for d in detail)
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "invalid")
    response.data = error_body(response.status_code, str(code), message, fields)
    return response


def not_found_json(request, exception=None):
    from django.http import JsonResponse

    return JsonResponse(error_body(404, "not_found", "Not found."), status=404)


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response(error_body(status, code, message, fields), status=status)
