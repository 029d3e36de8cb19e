"""Segment endpoints: the same selectors as the pages, so a number on a page and in the API agree."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cartportal.access import get_scoped_or_404, visible_regions
from cartportal.api.base import CsvExportMixin, CsvRenderer
from segments import selectors
from segments.models import AudienceDefinition, CustomerProfile
from segments.services import audience_create, audience_delete, changeable_region_or_404


def _region_ids(request):
    code = request.query_params.get("region")
    if not code:
        return None
    return list(visible_regions(request.user).filter(code=code).values_list("id", flat=True))


class SegmentSummaryView(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Segment sizes and values per region (same as the page)")
    def get(self, request):
        rows = selectors.segment_summary(
            request.user, region_ids=_region_ids(request), kind=request.query_params.get("kind") or None
        )
        results = [{**r, "monetary_total": str(r["monetary_total"])} for r in rows]
        if getattr(request.accepted_renderer, "format", "") == "csv":
            return Response(results)
        return Response({"count": len(results), "results": results})


class MemberSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    region = serializers.CharField(source="region.code")

    class Meta:
        model = CustomerProfile
        fields = [
            "customer",
            "region",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "rfm_segment",
            "value_group",
            "dormant",
            "promotion_base",
            "persona",
        ]


class SegmentMembersView(CsvExportMixin, ListAPIView):
    serializer_class = MemberSerializer
    filter_backends: list = []

    def get_queryset(self):
        q = self.request.query_params
        dormant = {"1": True, "true": True, "0": False, "false": False}.get(q.get("dormant", "").lower())
        return selectors.segment_members(
            self.request.user,
            region_ids=_region_ids(self.request),
            kind=q.get("kind", "value_group"),
            code=q.get("code", ""),
            dormant=dormant,
        )


class PersonaView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Latest persona runs with k, stability (ARI) and profiles")
    def get(self, request):
        runs = selectors.latest_persona_runs(request.user, region_ids=_region_ids(request))
        return Response({"results": [selectors.persona_payload(r) for r in runs]})


class AudienceSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = AudienceDefinition
        fields = [
            "id",
            "region",
            "name",
            "universe",
            "rules",
            "catch_all_name",
            "min_size",
            "max_size",
            "policy",
            "weights",
            "result",
            "evaluated_at",
        ]


class AudienceCreateSerializer(serializers.Serializer):
    region = serializers.CharField()
    name = serializers.CharField(max_length=120)
    universe = serializers.CharField()
    rules = serializers.ListField(child=serializers.DictField())
    catch_all_name = serializers.CharField(required=False, default="Everyone else")
    min_size = serializers.IntegerField(required=False, default=0, min_value=0)
    max_size = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)
    policy = serializers.ChoiceField(choices=["merge", "flag"], required=False, default="flag")
    weights = serializers.DictField(required=False, default=dict)


class AudienceListView(CsvExportMixin, ListAPIView):
    serializer_class = AudienceSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.audiences(self.request.user, region_ids=_region_ids(self.request))

    @extend_schema(request=AudienceCreateSerializer, responses={201: AudienceSerializer})
    def post(self, request):
        data = AudienceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        region = changeable_region_or_404(request.user, values.pop("region"))
        audience = audience_create(actor=request.user, region=region, **values)
        return Response(AudienceSerializer(audience).data, status=201)


class AudienceDetailView(APIView):
    @extend_schema(responses=AudienceSerializer, summary="One audience strategy with its evaluated segments")
    def get(self, request, pk: str):
        audience = get_scoped_or_404(AudienceDefinition.objects, request.user, pk=pk)
        return Response(AudienceSerializer(audience).data)

    @extend_schema(responses={204: None}, summary="Delete an audience strategy and its members (audited)")
    def delete(self, request, pk: str):
        audience_delete(actor=request.user, audience_id=pk)
        return Response(status=204)
