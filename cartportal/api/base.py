"""The base every REST endpoint builds on.

- `PartnerTokenAuthentication`: `Authorization: Token <key>`; revoked or unknown keys answer 401. The token is
  put on the user (`request.user.partner_token`) so `cartportal.access.region_ids_for` narrows to its regions.
- `TokenScopePermission`: safe methods need the "read" scope, unsafe methods need "write" (portal sessions
  are not token-bound and pass).
- `exception_handler`: one error body for every error,
  `{"error": {"status": int, "code": str, "message": str, "fields": {...}}}`.
- `RegionScopedViewSetMixin`: querysets start from `Model.objects.restrict(user, action)`; a foreign object
  answers like a missing one (audited). Writes are actions that call a service, which authorizes them.
- `TokenRateThrottle`: rate per token (per user for sessions).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import sys

import django_filters
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse, QueryDict
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from cartportal.access import record_denied, region_id_path
from cartportal.api.auth import (
    DEFAULT_PERMISSIONS,
    HasRole,
    PartnerTokenAuthentication,
    PortalSessionAuthentication,
    StandardPagination,
    TokenRateThrottle,
    TokenScopePermission,
    token_of,
)
from cartportal.capacity import database_unavailable
from cartportal.errors import AppError

logger = logging.getLogger(__name__)

WRITE_METHODS_ACTION = "change"


# --- Errors --------------------------------------------------------------------------------------------
_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


def error_body(status_code: int, message: str, *, code: str | None = None, fields: dict | None = None) -> dict:
    return {
        "error": {
            "status": int(status_code),
            "code": code or _CODES.get(status_code, "error"),
            "message": str(message),
            "fields": fields or {},
        }
    }


def _flatten(detail):
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def _first_code(codes, default):
    if isinstance(codes, str):
        return codes
    if isinstance(codes, list) and codes:
        return _first_code(codes[0], default)
    if isinstance(codes, dict) and codes:
        return _first_code(next(iter(codes.values())), default)
    return default


def exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error in the same shape. An application error answers the status of its code
    (`cartportal.errors.STATUS_BY_CODE`, as the pages do); anything unexpected is a logged 500."""
    if isinstance(exc, AppError):
        set_rollback()
        body = error_body(exc.status, exc.message, code=exc.code, fields=_flatten(exc.fields))
        return Response(body, status=exc.status)
    reason = database_unavailable(exc)
    if reason:  # a statement timeout or a database outage: 503 with Retry-After, not a 500
        set_rollback()
        response = Response(error_body(503, reason, code="unavailable"), status=503)
        response["Retry-After"] = str(settings.CARTPORTAL_WEB_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    status_code = response.status_code
    fields: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = _flatten(detail)
            non_field = fields.pop("non_field_errors", None)
            message = "; ".join(non_field) if isinstance(non_field, list) else "Invalid input."
            if fields and not non_field:
                message = "Invalid input: see fields."
        elif isinstance(detail, list):
            message = "; ".join(str(d) for d in detail) or "Invalid input."
        else:
            message = str(detail)
        code = _first_code(exc.get_codes(), "invalid")
        code = "invalid" if code in ("required", "null", "blank") and fields else code
    elif isinstance(exc, Http404):
        message, code = "Not found.", "not_found"
    elif isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        message = str(getattr(exc, "detail", "") or "You do not have permission to perform this action.")
        code = "permission_denied"
    elif isinstance(exc, exceptions.APIException):
        message = _flatten(exc.detail)
        if isinstance(message, (list, dict)):
            message = str(message)
        code = _first_code(exc.get_codes(), _CODES.get(status_code, "error"))
    else:
        message, code = "Error.", _CODES.get(status_code, "error")
    if status_code == status.HTTP_401_UNAUTHORIZED:
        code = "not_authenticated" if code in ("not_authenticated", "error") else code
    response.data = error_body(status_code, message, code=code, fields=fields)
    return response


def _server_error(exc, context) -> Response:
    """A programming error (or a failure of a dependency): logged with its traceback, answered as a 500."""
    set_rollback()
    view = context.get("view")
    request = context.get("request")
    logger.error(
        "unexpected error in %s %s (%s)",
        getattr(request, "method", ""),
        getattr(request, "path", ""),
        type(view).__name__ if view is not None else "no view",
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return Response(error_body(500, "Something went wrong; the error was logged."), status=500)


def error_response(status_code: int, code: str, message: str, fields: dict | None = None) -> Response:
    """A DRF Response with the one error body (for views that answer an error without raising)."""
    return Response(error_body(status_code, message, code=code, fields=fields), status=status_code)


api_exception_handler = exception_handler


def json_not_found(request, exception=None):
    return JsonResponse(error_body(404, "Not found."), status=404)


def json_server_error(request):
    return JsonResponse(error_body(500, "Something went wrong; the error was logged."), status=500)


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


# --- CSV export ----------------------------------------------------------------------------------------
class CsvRenderer(BaseRenderer):
    """`?format=csv` on a list: every row the caller may see (not one page), nested values as JSON text.
    Cells a spreadsheet would run as formulas are quoted (same rule as the portal's exports)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        from cartportal.pages.export import safe_cell as _safe

        if isinstance(data, dict) and "error" in data:
            rows, header = [data["error"]], ["status", "code", "message", "fields"]
        else:
            if isinstance(data, dict):
                rows = data["results"] if "results" in data else [data]
            else:
                rows = list(data or [])
            header = list(rows[0].keys()) if rows else []
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            cells = [row.get(name) for name in header]
            writer.writerow([_safe(json.dumps(c, default=str) if isinstance(c, (dict, list)) else c) for c in cells])
        return buffer.getvalue().encode(self.charset)


CSV_EXPORT_LIMIT = 100_000


class CsvExportMixin:
    """Lists answer JSON pages, or the whole (scoped, filtered) list as CSV with `?format=csv`."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    def wants_csv(self) -> bool:
        renderer = getattr(self.request, "accepted_renderer", None)
        return getattr(renderer, "format", "") == "csv"

    def paginate_queryset(self, queryset):
        if self.wants_csv():
            return None
        return super().paginate_queryset(queryset)

    def page_or_all(self, queryset):
        page = self.paginate_queryset(queryset)
        return list(queryset[:CSV_EXPORT_LIMIT]) if page is None else page

    def respond_list(self, data):
        if self.wants_csv():
            return Response(data)
        return self.get_paginated_response(data)

    def list(self, request, *args, **kwargs):
        rows = self.page_or_all(self.filter_queryset(self.get_queryset()))
        return self.respond_list(self.get_serializer(rows, many=True).data)


# --- Region-scoped viewsets ----------------------------------------------------------------------------
class RegionScopedViewSetMixin(CsvExportMixin):
    """Querysets start from the user's scope for the request's action; writes are actions calling a service.

    Set `model` (or `queryset`), and `region_field` when the model's lookup to its Region is not `region`
    (e.g. "customer__region"). Reads use the "view" action, writes the `write_action` ("change").
    """

    model = None
    region_field = "region"
    write_action = WRITE_METHODS_ACTION
    lookup_value_regex = r"[^/]+"

    def _model(self):
        if self.model is not None:
            return self.model
        return self.queryset.model

    def scope_action(self) -> str:
        if self.request.method in SAFE_METHODS:
            return "view"
        return self.write_action

    def base_queryset(self):
        if self.queryset is not None:
            return self.queryset.all()
        return self._model().objects.all()

    def get_queryset(self):
        qs = self.base_queryset()
        if getattr(self, "swagger_fake_view", False):
            return qs.none()
        return qs.restrict(self.request.user, self.scope_action())

    def get_object(self):
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        value = self.kwargs.get(lookup_url_kwarg)
        pk_field = self._model()._meta.pk
        if self.lookup_field in ("pk", "id"):
            try:
                pk_field.to_python(value)
                if pk_field.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField"):
                    if int(value) < 0 or int(value) > 2**63 - 1:
                        raise ValueError
            except (DjangoValidationError, ValueError, TypeError) as exc:
                raise Http404 from exc
        try:
            return super().get_object()
        except Http404:
            self._audit_foreign(value)
            raise
        except (ValueError, TypeError, DjangoValidationError) as exc:
            raise Http404 from exc

    def _audit_foreign(self, value):
        try:
            base = self.base_queryset()
            existing = base.filter(**{self.lookup_field: value}).values_list("pk", region_id_path(base)).first()
        except (ValueError, TypeError, DjangoValidationError):
            return
        if existing is not None:
            record_denied(
                self.request.user,
                action=self.scope_action(),
                what=self._model()._meta.verbose_name,
                object_id=str(existing[0]),
                region_id=existing[1],
            )


class RegionScopedReadOnlyViewSet(RegionScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


__all__ = [
    "CsvExportMixin",
    "CsvRenderer",
    "DEFAULT_PERMISSIONS",
    "HasRole",
    "PartnerTokenAuthentication",
    "PortalSessionAuthentication",
    "RegionScopedReadOnlyViewSet",
    "RegionScopedViewSetMixin",
    "StandardPagination",
    "TokenRateThrottle",
    "TokenScopePermission",
    "api_exception_handler",
    "error_body",
    "error_response",
    "exception_handler",
    "json_not_found",
    "json_server_error",
    "mixins",
    "token_of",
]


# --- URLconf handlers: JSON under /api/, the portal's pages elsewhere -----------------------------------
def handler404(request, exception=None):
    if is_api_path(request.path):
        return json_not_found(request, exception)
    from cartportal.pages.errors import not_found

    return not_found(request, exception)


def handler500(request):
    reason = database_unavailable(sys.exc_info()[1])
    if reason:  # the database is down (or a statement ran out of time) outside a view: 503, not a 500
        from cartportal.pages.errors import unavailable

        return unavailable(request, reason)
    if is_api_path(request.path):
        return json_server_error(request)
    from cartportal.pages.errors import server_error

    return server_error(request)


def validated(serializer_class, data) -> dict:
    """The request body checked by a serializer; a bad body raises the 400 of the one error shape."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Filter sets ---------------------------------------------------------------------------------------
class LeanFilterSet(django_filters.FilterSet):
    """A django-filter FilterSet that does less per request, for hot lists whose filters are fixed (no filter's
    form field depends on the request or on the data): the filters are copied shallowly rather than deeply and the
    form class is built once per filter set class rather than on every request (together about a tenth of the
    customer list's time). Filters whose choices are computed per request must stay on FilterSet."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self

    def get_form_class(self):
        form_class = type(self).__dict__.get("_lean_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._lean_form_class = form_class
        return form_class
