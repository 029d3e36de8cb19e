"""Platform endpoints: regions, customers (with risk, value, segments, explanation), live session scoring,
jobs and the audit trail (import batches: cartportal/ingest/api.py). Reads go through the caller's region
scope; writes call services."""

from __future__ import annotations

import django_filters
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from cartportal import selectors, services
from cartportal.access import COMPLIANCE, can, record_denied, visible_regions
from cartportal.api import serializers as s
from cartportal.api.base import (
    DEFAULT_PERMISSIONS,
    CsvExportMixin,
    HasRole,
    RegionScopedReadOnlyViewSet,
    error_body,
)
from cartportal.api.insights import customer_insights, score_live_cart
from cartportal.api.schema import ErrorSerializer
from cartportal.models import AuditEvent, Customer, JobRun, Region

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated"),
    403: OpenApiResponse(ErrorSerializer, description="Token scope or role missing"),
    404: OpenApiResponse(ErrorSerializer, description="Missing, or in a region the caller may not see"),
    429: OpenApiResponse(ErrorSerializer, description="Throttled"),
    503: OpenApiResponse(ErrorSerializer, description="Not available yet"),
}


def _responses(ok, *codes):
    out = {code: ERRORS[code] for code in codes}
    out.update(ok)
    return out


# --- Regions -------------------------------------------------------------------------------------------
class RegionFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="code", help_text="Region code (as on every other list)")

    class Meta:
        model = Region
        fields = ["region", "code"]


@extend_schema(responses=_responses({200: s.RegionSerializer}, 401, 403, 404, 429))
class RegionViewSet(CsvExportMixin, viewsets.ReadOnlyModelViewSet):
    """The regions the caller may see (a token: the regions it is bound to)."""

    serializer_class = s.RegionSerializer
    permission_classes = DEFAULT_PERMISSIONS
    filterset_class = RegionFilter
    ordering_fields = ["code", "name", "id"]
    ordering = ["code"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Region.objects.none()
        return visible_regions(self.request.user)

    def get_object(self):
        value = self.kwargs.get("pk", "")
        if not str(value).isdigit() or int(value) > 2**31 - 1:
            raise exceptions.NotFound()
        return super().get_object()


# --- Customers -----------------------------------------------------------------------------------------
class CustomerFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code", help_text="Region code")
    external_id = django_filters.CharFilter()
    consent_marketing = django_filters.BooleanFilter()
    erased = django_filters.BooleanFilter(field_name="erased_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Customer
        fields = ["region", "external_id", "consent_marketing", "erased"]


@extend_schema(responses=_responses({200: s.CustomerSerializer}, 401, 403, 404, 429))
class CustomerViewSet(RegionScopedReadOnlyViewSet):
    """Customers of the caller's regions with abandonment risk, value forecast, segments and a plain-words
    explanation (null while no published score exists). Personal fields are never part of the API."""

    model = Customer
    serializer_class = s.CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["id", "external_id", "first_seen"]
    ordering = ["id"]

    def base_queryset(self):
        return Customer.objects.select_related("region")

    def _context_with(self, customers) -> dict:
        context = self.get_serializer_context()
        context["insights"] = customer_insights(c.pk for c in customers)
        return context

    def list(self, request, *args, **kwargs):
        rows = self.page_or_all(self.filter_queryset(self.get_queryset()))
        return self.respond_list(s.CustomerSerializer(rows, many=True, context=self._context_with(rows)).data)

    def retrieve(self, request, *args, **kwargs):
        customer = self.get_object()
        return Response(s.CustomerSerializer(customer, context=self._context_with([customer])).data)

    @extend_schema(responses=_responses({200: s.CustomerRiskSerializer}, 401, 403, 404, 429))
    @action(detail=True, methods=["get"])
    def risk(self, request, pk=None):
        """The customer's current abandonment risk and its explanation (a fast lookup)."""
        customer = self.get_object()
        insight = customer_insights([customer.pk])[customer.pk]
        return Response(
            {
                "id": customer.pk,
                "external_id": customer.external_id,
                "risk": insight["risk"],
                "explanation": insight["explanation"],
            }
        )

    @extend_schema(request=s.ConsentSerializer, responses=_responses({200: s.CustomerSerializer}, 400, 401, 403, 404))
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        """Record a consent change for one customer (audited)."""
        customer = self.get_object()
        data = _valid(s.ConsentSerializer, request.data)
        customer = services.customer_set_consent(
            actor=request.user,
            customer=customer,
            marketing=data.get("consent_marketing"),
            personalisation=data.get("consent_personalisation"),
        )
        return Response(s.CustomerSerializer(customer, context=self._context_with([customer])).data)

    @extend_schema(
        request=s.BulkConsentSerializer, responses=_responses({200: s.BulkResultSerializer}, 400, 401, 403, 404)
    )
    @action(detail=False, methods=["post"], url_path="bulk-consent")
    def bulk_consent(self, request):
        """Consent change for many customers at once: all or nothing. When any id is missing or outside the
        caller's regions, nothing changes and the answer is 404 listing those ids (missing and foreign alike)."""
        data = _valid(s.BulkConsentSerializer, request.data)
        ids = sorted(set(data["ids"]))
        with transaction.atomic():
            customers = list(self.get_queryset().select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
            unknown = sorted(set(ids) - {c.pk for c in customers})
            if unknown:
                for cid in Customer.objects.filter(pk__in=unknown).values_list("pk", flat=True):
                    record_denied(request.user, action="change", what="customer", object_id=str(cid))
                body = error_body(404, "Some customers were not found; nothing was changed.", fields={"ids": unknown})
                return Response(body, status=status.HTTP_404_NOT_FOUND)
            for customer in customers:
                services.customer_set_consent(
                    actor=request.user,
                    customer=customer,
                    marketing=data.get("consent_marketing"),
                    personalisation=data.get("consent_personalisation"),
                )
        return Response({"updated": len(customers), "ids": ids})


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Live session scoring ------------------------------------------------------------------------------
class LiveSessionScoreView(APIView):
    """Retired: whole-session scoring answered from the outcome itself. Validates the body as before and answers
    503 with a pointer to POST /api/v1/carts/score/, which scores an open cart."""

    permission_classes = DEFAULT_PERMISSIONS
    read_only_post = True

    @extend_schema(
        deprecated=True,
        request=s.LiveSessionSerializer,
        responses=_responses(
            {200: s.LiveScoreSerializer},
            503,
            400,
            401,
            403,
            429,
        ),
    )
    def post(self, request):
        data = dict(_valid(s.LiveSessionSerializer, request.data))
        region = data.pop("region")
        if not can(request.user, "view", region.pk):
            raise exceptions.ValidationError({"region": ["Unknown region."]})
        # Whole-session fields (pages, exit rate, page value) describe the outcome, not a moment one can act on: the
        # abandonment model scores open carts instead.
        return Response(
            error_body(
                503,
                "Session scoring is retired: score the open cart with POST /api/v1/carts/score/.",
                code="unavailable",
            ),
            status=503,
        )


class LiveCartScoreView(APIView):
    """Score an open cart now: the probability it is not bought within the recovery window, the friction drivers
    behind it in concrete words, and the proposed intervention. Products and the customer are looked up by the
    shop's own ids; those not found are reported under "unknown". Stores nothing, so "read" scope is enough."""

    permission_classes = DEFAULT_PERMISSIONS
    read_only_post = True

    @extend_schema(
        request=s.LiveCartSerializer, responses=_responses({200: s.LiveCartScoreSerializer}, 503, 400, 401, 403, 429)
    )
    def post(self, request):
        data = dict(_valid(s.LiveCartSerializer, request.data))
        region = data.pop("region")
        if not can(request.user, "view", region.pk):
            raise exceptions.ValidationError({"region": ["Unknown region."]})
        try:
            result = score_live_cart(request.user, data, region)
        except LookupError as exc:  # no active model yet
            return Response(error_body(503, str(exc) or "No abandonment model is active.", code="unavailable"), 503)
        return Response(result)


# --- Jobs and import batches ---------------------------------------------------------------------------
class JobFilter(django_filters.FilterSet):
    kind = django_filters.CharFilter()
    state = django_filters.ChoiceFilter(choices=JobRun.State.choices)
    region = django_filters.CharFilter(field_name="region__code")

    class Meta:
        model = JobRun
        fields = ["kind", "state", "region"]


@extend_schema(responses=_responses({200: s.JobSerializer}, 401, 403, 404, 429))
class JobViewSet(RegionScopedReadOnlyViewSet):
    """Long-running work (imports, retrains, rescoring, segment rebuilds) and its progress."""

    model = JobRun
    serializer_class = s.JobSerializer
    filterset_class = JobFilter
    ordering_fields = ["id", "created_at", "state", "kind"]
    ordering = ["-id"]

    def base_queryset(self):
        return JobRun.objects.select_related("region")


# --- Audit trail ---------------------------------------------------------------------------------------
class AuditFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(lookup_expr="startswith")
    actor = django_filters.CharFilter(lookup_expr="startswith")
    region = django_filters.CharFilter(field_name="region_code")
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "region", "object_type", "object_id"]


@extend_schema(responses=_responses({200: s.AuditEventSerializer}, 401, 403, 404, 429))
class AuditEventViewSet(CsvExportMixin, viewsets.ReadOnlyModelViewSet):
    """The append-only audit trail; Compliance only."""

    serializer_class = s.AuditEventSerializer
    required_roles = (COMPLIANCE,)
    filterset_class = AuditFilter
    ordering_fields = ["id", "occurred_at"]
    ordering = ["-id"]

    def get_permissions(self):
        # The list refuses other roles outright; one event answers 404 to them, like a missing one.
        extra = [HasRole()] if self.action == "list" else []
        return [permission() for permission in DEFAULT_PERMISSIONS] + extra

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return selectors.audit_events(self.request.user)

    def get_object(self):
        value = self.kwargs.get("pk", "")
        if not str(value).isdigit() or int(value) > 2**63 - 1:
            raise exceptions.NotFound()
        return super().get_object()
