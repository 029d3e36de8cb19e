"""API endpoints that combine domains: customers with their abandonment risk, value forecast, segments and a
plain-words explanation, and live session scoring (the abandonment model). Reads go through the caller's region
scope; writes call the core's services."""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from cartportal import services
from cartportal.access import Scope, can, record_denied
from cartportal.api import serializers as s
from cartportal.api.auth import CustomerPagination
from cartportal.api.base import (
    DEFAULT_PERMISSIONS,
    LeanFilterSet,
    RegionScopedReadOnlyViewSet,
    error_body,
    validated,
)
from cartportal.api.schema import responses
from cartportal.models import Customer
from cartportal.portal.customer_insights import customer_insights, risk_lookup, score_live_cart
from predictions.recommend.selectors import bought_together_for_cart


# --- Customers -----------------------------------------------------------------------------------------
class CustomerFilter(LeanFilterSet):
    region = django_filters.CharFilter(field_name="region__code", help_text="Region code")
    external_id = django_filters.CharFilter()
    consent_marketing = django_filters.BooleanFilter()
    erased = django_filters.BooleanFilter(field_name="erased_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Customer
        fields = ["region", "external_id", "consent_marketing", "erased"]


@extend_schema(responses=responses({200: s.CustomerSerializer}, 401, 403, 404, 429))
class CustomerViewSet(RegionScopedReadOnlyViewSet):
    """Customers of the caller's regions with abandonment risk, value forecast, segments and a plain-words
    explanation (null while no published score exists). Personal fields are never part of the API."""

    model = Customer
    serializer_class = s.CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["id", "external_id", "first_seen"]
    ordering = ["id"]
    pagination_class = CustomerPagination

    def base_queryset(self):
        return Customer.objects.select_related("region")

    def _context_with(self, customers) -> dict:
        context = self.get_serializer_context()
        context["insights"] = customer_insights(c.pk for c in customers)
        return context

    def count_identity(self) -> str:
        """What the list selects, for its kept total: the caller's regions and the filters of the request (the
        queryset is the base queryset in that scope, filtered by exactly these)."""
        from cartportal.access import region_ids_for

        regions = region_ids_for(self.request.user, self.scope_action())
        fields = self.filterset_class.base_filters
        filters = sorted((k, v) for k, v in self.request.query_params.lists() if k in fields)
        return f"customers\n{'all' if regions is None else sorted(regions)}\n{filters!r}"

    def filter_queryset(self, queryset):
        """The filter backends, or, when the request names no filter and no ordering (a partner paging through
        everything, the common read), the default ordering at once: building the filter set and its form for no
        filter took about a tenth of a list request's time."""
        params = self.request.query_params
        if any(name in params for name in self.filterset_class.base_filters) or api_settings.ORDERING_PARAM in params:
            return super().filter_queryset(queryset)
        return queryset.order_by(*self.ordering)

    def list(self, request, *args, **kwargs):
        customers = self.filter_queryset(self.get_queryset()).values(*s.CUSTOMER_COLUMNS, "region__code")
        rows = self.page_or_all(customers)
        return self.respond_list(s.customer_rows(rows, customer_insights(c["id"] for c in rows)))

    def retrieve(self, request, *args, **kwargs):
        customer = self.get_object()
        return Response(s.CustomerSerializer(customer, context=self._context_with([customer])).data)

    @extend_schema(responses=responses({200: s.CustomerRiskSerializer}, 401, 403, 404, 429))
    @action(detail=True, methods=["get"])
    def risk(self, request, pk=None):
        """The customer's current abandonment risk and its explanation (a fast lookup)."""
        try:
            customer_id = int(pk)
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
        found = risk_lookup(Scope.of(request.user, "view"), customer_id) if 0 < customer_id < 2**63 else None
        if found is None:
            self._audit_foreign(customer_id)
            raise Http404
        return Response(found)

    @extend_schema(
        request=s.ConsentSerializer, responses=responses({200: s.CustomerSerializer}, 400, 401, 403, 404, 409)
    )
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        """Record a consent change for one customer (audited)."""
        customer = self.get_object()
        data = validated(s.ConsentSerializer, request.data)
        customer = services.customer_set_consent(
            actor=request.user,
            customer=customer,
            marketing=data.get("consent_marketing"),
            personalisation=data.get("consent_personalisation"),
        )
        return Response(s.CustomerSerializer(customer, context=self._context_with([customer])).data)

    @extend_schema(request=s.ErasureSerializer, responses=responses({200: s.CustomerSerializer}, 400, 401, 403, 404))
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        """Erase the customer's personal data (GDPR), as `manage.py erase_customer` does: personal fields, review
        texts, quarantined raw rows and stored uploads that name them; their shop id is remembered as a keyed hash
        so that no import creates them again. Audited; erasing an erased customer changes nothing."""
        customer = self.get_object()
        data = validated(s.ErasureSerializer, request.data)
        customer = services.customer_erase(actor=request.user, customer=customer, reason=data["reason"])
        return Response(s.CustomerSerializer(customer, context=self._context_with([customer])).data)

    @extend_schema(
        request=s.BulkConsentSerializer, responses=responses({200: s.BulkResultSerializer}, 400, 401, 403, 404)
    )
    @action(detail=False, methods=["post"], url_path="bulk-consent")
    def bulk_consent(self, request):
        """Consent change for many customers at once: all or nothing. When any id is missing or outside the
        caller's regions, nothing changes and the answer is 404 listing those ids (missing and foreign alike)."""
        data = validated(s.BulkConsentSerializer, request.data)
        ids = sorted(set(data["ids"]))
        with transaction.atomic():
            customers = list(self.get_queryset().select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
            unknown = sorted(set(ids) - {c.pk for c in customers})
            if unknown:
                for cid, region_id in Customer.objects.filter(pk__in=unknown).values_list("pk", "region_id"):
                    record_denied(
                        request.user, action="change", what="customer", object_id=str(cid), region_id=region_id
                    )
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


# --- Live session scoring (retired) and live cart scoring ------------------------------------------------
class LiveSessionScoreView(APIView):
    """Retired: whole-session scoring answered from the outcome itself. Validates the body as before and answers
    503 with a pointer to POST /api/v1/carts/score/, which scores an open cart."""

    permission_classes = DEFAULT_PERMISSIONS
    read_only_post = True

    @extend_schema(
        deprecated=True,
        request=s.LiveSessionSerializer,
        responses=responses({200: s.LiveScoreSerializer}, 503, 400, 401, 403, 429),
    )
    def post(self, request):
        data = dict(validated(s.LiveSessionSerializer, request.data))
        region = data.pop("region")
        if not can(request.user, "view", region.pk):
            raise exceptions.ValidationError({"region": ["Unknown region."]})
        # Whole-session fields (pages, exit rate, page value) describe the outcome, not a moment one can act on: the
        # abandonment model scores open carts instead.
        message = "Session scoring is retired: score the open cart with POST /api/v1/carts/score/."
        return Response(error_body(503, message, code="unavailable"), status=503)


class LiveCartScoreView(APIView):
    """Score an open cart now: the probability it is not bought within the recovery window, the friction drivers
    behind it in concrete words, and the proposed intervention. Products and the customer are looked up by the
    shop's own ids; those not found are reported under "unknown". Stores nothing, so "read" scope is enough."""

    permission_classes = DEFAULT_PERMISSIONS
    read_only_post = True

    @extend_schema(
        request=s.LiveCartSerializer, responses=responses({200: s.LiveCartScoreSerializer}, 503, 400, 401, 403, 429)
    )
    def post(self, request):
        data = dict(validated(s.LiveCartSerializer, request.data))
        region = data.pop("region")
        if not can(request.user, "view", region.pk):
            raise exceptions.ValidationError({"region": ["Unknown region."]})
        try:
            result = score_live_cart(request.user, data, region)
        except LookupError as exc:  # no active model yet
            return Response(error_body(503, str(exc) or "No abandonment model is active.", code="unavailable"), 503)
        skus = [item["product_id"] for item in data["items"]]
        return Response({**result, "bought_together": bought_together_for_cart(skus)})
