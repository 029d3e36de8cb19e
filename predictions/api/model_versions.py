"""Model versions (the registry): global objects, not owned by a region. Every role reads them (partners with
the read scope too); only analysts and administrators activate a version or roll back, through the same
services as the models tab, which audit the change."""

from __future__ import annotations

from functools import partial

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from cartportal.access import MANAGE_MODELS, ROLES, has_capability
from cartportal.api.base import DEFAULT_PERMISSIONS, CsvExportMixin, HasRole, error_response, validated
from cartportal.api.schema import responses
from predictions import selectors, services
from predictions.models import Kind, ModelVersion

answers = partial(responses, conflict="Not possible in the registry's state")


class ModelVersionSerializer(serializers.ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "kind",
            "version",
            "algorithm",
            "status",
            "active",
            "window_start",
            "window_end",
            "cutoff",
            "features",
            "metrics",
            "holdout",
            "checksum",
            "card",
            "trained_by",
            "refusal_reason",
            "created_at",
            "activated_at",
            "retired_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "metrics": {"help_text": "Measured on the holdout, never on the training data (with its baseline)"},
            "refusal_reason": {"help_text": "Why this candidate was not activated; empty when it was or is pending"},
        }

    version = serializers.IntegerField(source="pk", read_only=True, help_text="Version number (its id)")

    def get_active(self, obj) -> bool:
        return obj.status == ModelVersion.Status.ACTIVE


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ModelVersionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    status = django_filters.ChoiceFilter(choices=ModelVersion.Status.choices)
    active = django_filters.BooleanFilter(method="filter_active", help_text="Only the active (or inactive) versions")

    class Meta:
        model = ModelVersion
        fields = ["kind", "status", "active"]

    def filter_active(self, queryset, name, value):
        active = ModelVersion.Status.ACTIVE
        return queryset.filter(status=active) if value else queryset.exclude(status=active)


class ManagesModels(BasePermission):
    message = "Only analysts and administrators manage models."

    def has_permission(self, request, view):
        return has_capability(request.user, MANAGE_MODELS)


@extend_schema(responses=answers({200: ModelVersionSerializer}, 401, 403, 404, 429))
class ModelVersionViewSet(CsvExportMixin, viewsets.ReadOnlyModelViewSet):
    """Every trained model with its data window, features, holdout metrics, checksum and whether it is active."""

    serializer_class = ModelVersionSerializer
    required_roles = tuple(ROLES)
    filterset_class = ModelVersionFilter
    ordering_fields = ["id", "kind", "created_at", "activated_at"]
    ordering = ["kind", "-created_at", "-id"]

    def get_permissions(self):
        extra = [ManagesModels()] if self.action in ("activate", "rollback") else [HasRole()]
        return [permission() for permission in DEFAULT_PERMISSIONS] + extra

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        return selectors.model_versions(self.request.user)

    def get_object(self):
        value = self.kwargs.get("pk", "")
        if not str(value).isdigit() or int(value) > 2**63 - 1:
            raise exceptions.NotFound()
        return super().get_object()

    @extend_schema(
        request=DecisionSerializer,
        responses=answers({200: ModelVersionSerializer}, 400, 401, 403, 404, 409, 429),
        summary="Make this version the active one of its kind (analysts; audited with the reason)",
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        version = self.get_object()
        reason = validated(DecisionSerializer, request.data)["reason"]
        version = services.model_activate(actor=request.user, version=version, reason=reason)
        return Response(ModelVersionSerializer(selectors.model_version(version.pk)).data)

    @extend_schema(
        request=None,
        responses=answers({200: ModelVersionSerializer}, 401, 403, 404, 409, 429),
        summary="Roll back this active version: the version active before it becomes active again (analysts)",
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        version = self.get_object()
        if version.status != ModelVersion.Status.ACTIVE:
            message = f"Version {version.pk} is not the active {version.kind} model; only the active one rolls back."
            return error_response(409, "conflict", message)
        restored = services.model_rollback(actor=request.user, kind=version.kind)
        return Response(ModelVersionSerializer(selectors.model_version(restored.pk)).data)
