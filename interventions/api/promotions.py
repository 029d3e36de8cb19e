"""Read-only weekly promotions: the same selector as the promotions page, so the page and the API agree."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView

from cartportal.access import visible_regions
from cartportal.api.base import CsvExportMixin
from interventions.models import PromotionBase, PromotionOffer
from interventions.promotions import selectors


class PromotionOfferSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id")
    region = serializers.CharField(source="region.code")

    class Meta:
        model = PromotionOffer
        fields = selectors.OFFER_FIELDS


@extend_schema(
    summary="Weekly promotions (top three offers per consenting customer) of one week, latest by default",
    parameters=[
        OpenApiParameter("region", OpenApiTypes.STR, description="region code"),
        OpenApiParameter("week", OpenApiTypes.DATE, description="Monday of the week (default: the latest)"),
        OpenApiParameter("base", OpenApiTypes.STR, enum=PromotionBase.values),
        OpenApiParameter("category", OpenApiTypes.STR),
    ],
)
class PromotionListView(CsvExportMixin, ListAPIView):
    serializer_class = PromotionOfferSerializer
    filter_backends: list = []

    def get_queryset(self):
        q = self.request.query_params
        region_ids = None
        if q.get("region"):
            region_ids = list(visible_regions(self.request.user).filter(code=q["region"]).values_list("id", flat=True))
        base = q.get("base", "")
        if base and base not in PromotionBase.values:
            raise ValidationError({"base": [f"choose one of {', '.join(PromotionBase.values)}"]})
        return selectors.promotions_for(
            self.request.user,
            region_ids=region_ids,
            week=_week(q.get("week", "")),
            base=base,
            category=q.get("category", ""),
        )


def _week(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({"week": ["a date like 2026-11-16"]}) from None
