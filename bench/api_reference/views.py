"""A minimal REST framework view: one customer by primary key with its region, no authentication, no scoring.
What any endpoint of this stack costs at the least (routing, DRF's request cycle, one indexed query, JSON)."""

from __future__ import annotations

from django.http import Http404
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cartportal.models import Customer


class ReferenceCustomerView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request, pk: int):
        row = Customer.objects.filter(pk=pk).values("pk", "external_id", "region__code").first()
        if row is None:
            raise Http404
        return Response({"id": row["pk"], "external_id": row["external_id"], "region": row["region__code"]})
