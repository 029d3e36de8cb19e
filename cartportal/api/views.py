"""Platform endpoints: regions, jobs and the audit trail (import batches: cartportal/ingest/api.py; customers with
their insights and live session scoring combine domains: cartportal/portal/api.py). Reads go through the caller's
region scope; writes call services."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, viewsets

from cartportal import selectors
from cartportal.access import COMPLIANCE, visible_regions
from cartportal.api import serializers as s
from cartportal.api.base import (
    DEFAULT_PERMISSIONS,
    CsvExportMixin,
    HasRole,
    RegionScopedReadOnlyViewSet,
)
from cartportal.api.schema import responses
from cartportal.models import AuditEvent, JobRun, Region


# --- Regions -------------------------------------------------------------------------------------------
class RegionFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="code", help_text="Region code (as on every other list)")

    class Meta:
        model = Region
        fields = ["region", "code"]


@extend_schema(responses=responses({200: s.RegionSerializer}, 401, 403, 404, 429))
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


# --- Jobs and import batches ---------------------------------------------------------------------------
class JobFilter(django_filters.FilterSet):
    kind = django_filters.CharFilter()
    state = django_filters.ChoiceFilter(choices=JobRun.State.choices)
    region = django_filters.CharFilter(field_name="region__code")

    class Meta:
        model = JobRun
        fields = ["kind", "state", "region"]


@extend_schema(responses=responses({200: s.JobSerializer}, 401, 403, 404, 429))
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


@extend_schema(responses=responses({200: s.AuditEventSerializer}, 401, 403, 404, 429))
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
