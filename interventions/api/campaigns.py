"""Campaign endpoints: the region-scoped list and detail (arms and measured lift, the same selectors as the
campaign page), drafting, the approval state machine and the write-back of outcomes. Every write calls one
service of interventions.services; the rules (who may approve, which state follows which) live there."""

from __future__ import annotations

from functools import partial

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cartportal.access import can, record_denied
from cartportal.api.base import RegionScopedViewSetMixin, error_response, validated
from cartportal.api.schema import responses
from cartportal.models import Customer
from interventions import selectors, services
from interventions.audiences import KINDS, parse_audience
from interventions.catalogue import CATALOGUE
from interventions.killswitch import kill_switch_engaged
from interventions.models import Assignment, Campaign
from segments import selectors as segment_selectors
from segments.services import changeable_region_or_404

MAX_OUTCOMES = 10_000
answers = partial(responses, conflict="Not possible in the campaign's state")


# --- Serializers ---------------------------------------------------------------------------------------
class CampaignSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    assigned = serializers.IntegerField(read_only=True, help_text="Customers assigned (treated and holdout)")

    class Meta:
        model = Campaign
        fields = [
            "id",
            "region",
            "name",
            "intervention",
            "audience",
            "audience_kind",
            "audience_ref",
            "arms",
            "allocation",
            "holdout_share",
            "refusals",
            "state",
            "assigned",
            "created_by",
            "decided_by",
            "decision_reason",
            "override",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ArmSerializer(serializers.Serializer):
    arm = serializers.CharField()
    holdout = serializers.BooleanField()
    n = serializers.IntegerField(help_text="Customers in the arm")
    visits = serializers.IntegerField()
    conversions = serializers.IntegerField()
    revenue = serializers.FloatField()
    with_outcome = serializers.IntegerField(help_text="Customers whose outcome was written back")


class LiftStatsSerializer(serializers.Serializer):
    metric = serializers.CharField()
    treated_n = serializers.IntegerField()
    control_n = serializers.IntegerField()
    treated_rate = serializers.FloatField()
    control_rate = serializers.FloatField()
    difference = serializers.FloatField()
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()
    p_value = serializers.FloatField()
    confidence = serializers.FloatField()


class SampleRatioSerializer(serializers.Serializer):
    chi2 = serializers.FloatField(required=False)
    p_value = serializers.FloatField(allow_null=True)
    mismatch = serializers.BooleanField()


class LiftSerializer(serializers.Serializer):
    ready = serializers.BooleanField(help_text="False until both the treated arms and the holdout have outcomes")
    reason = serializers.CharField(required=False, help_text="Why the lift is not measured yet")
    treated_arm = serializers.CharField(required=False)
    rate = LiftStatsSerializer(required=False, help_text="Conversion lift against the holdout, with its CI")
    revenue = LiftStatsSerializer(required=False, allow_null=True, help_text="Revenue per customer lift")
    srm = SampleRatioSerializer(required=False, help_text="Sample-ratio check against the holdout share")


class CampaignDetailSerializer(CampaignSerializer):
    arms = serializers.SerializerMethodField()
    lift = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "arms", "lift"]
        read_only_fields = fields

    @extend_schema_field(ArmSerializer(many=True))
    def get_arms(self, obj) -> list:
        return self.context["arms"]

    @extend_schema_field(LiftSerializer)
    def get_lift(self, obj) -> dict:
        return self.context["lift"]


class CampaignCreateSerializer(serializers.Serializer):
    region = serializers.CharField(help_text="Code of a region the caller may change")
    name = serializers.CharField(max_length=200)
    intervention = serializers.CharField(max_length=32, help_text=f"Catalogue code: one of {', '.join(CATALOGUE)}")
    audience = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Audience segment label"
    )
    audience_id = serializers.IntegerField(
        required=False, min_value=1, help_text="An audience strategy of the same region (segments/audiences)"
    )
    audience_segment = serializers.CharField(
        max_length=80, required=False, help_text="One evaluated segment of that audience strategy"
    )
    holdout_share = serializers.FloatField(required=False, default=0.1, help_text="0 <= share < 1")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    audience_kind = serializers.ChoiceField(
        choices=list(KINDS),
        required=False,
        help_text="A saved audience: strategy, value_group, rfm, persona, at_risk or list",
    )
    audience_ref = serializers.DictField(
        required=False,
        default=dict,
        help_text='Which one: {"audience_id", "segment"}, {"code"}, {"threshold"} or {"list_id"}',
    )
    arms = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        max_length=len(CATALOGUE),
        help_text="Interventions to test against each other (default: the one intervention)",
    )
    allocation = serializers.ChoiceField(choices=["thompson", "uniform"], required=False, default="thompson")
    webhook_url = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if "audience_segment" in attrs and "audience_id" not in attrs:
            raise serializers.ValidationError({"audience_segment": ["Give audience_id with audience_segment."]})
        return attrs


class TransitionSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Required to approve, reject, stop"
    )


class OutcomeSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The customer's API id")
    visited = serializers.BooleanField(required=False, allow_null=True)
    converted = serializers.BooleanField(required=False, allow_null=True)
    revenue = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True, min_value=0, coerce_to_string=False
    )


class OutcomeBatchSerializer(serializers.Serializer):
    outcomes = OutcomeSerializer(many=True, allow_empty=False, max_length=MAX_OUTCOMES)

    def validate_outcomes(self, items):
        seen, repeated = set(), set()
        for item in items:
            (repeated if item["customer_id"] in seen else seen).add(item["customer_id"])
        if repeated:
            raise serializers.ValidationError(f"Customers listed more than once: {sorted(set(repeated))}.")
        return items


class AssignmentSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True, help_text="The shop's customer id")
    intervention = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    idempotency_key = serializers.CharField(read_only=True, help_text="The same key as on the webhook")

    class Meta:
        model = Assignment
        fields = [
            "id",
            "customer_id",
            "customer",
            "arm",
            "intervention",
            "message",
            "propensity",
            "assigned_at",
            "idempotency_key",
        ]
        read_only_fields = fields

    def get_intervention(self, obj) -> str:
        return (obj.content or {}).get("intervention", obj.arm)

    def get_message(self, obj) -> str:
        return (obj.content or {}).get("text", "")


class OutcomeResultSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    recorded = serializers.IntegerField(help_text="Assignments whose outcome was written")


# --- Views ---------------------------------------------------------------------------------------------
class CampaignFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code", help_text="Region code")
    state = django_filters.ChoiceFilter(choices=Campaign.State.choices)
    intervention = django_filters.ChoiceFilter(choices=[(code, i.name) for code, i in CATALOGUE.items()])

    class Meta:
        model = Campaign
        fields = ["region", "state", "intervention"]


def _transition_doc(summary: str, *codes: int):
    return extend_schema(
        request=TransitionSerializer,
        responses=answers({200: CampaignSerializer}, *codes),
        summary=f"{summary} (audited with the reason given)",
    )


@extend_schema(responses=answers({200: CampaignSerializer}, 401, 403, 404, 429))
class CampaignViewSet(RegionScopedViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Campaigns of the caller's regions. Approving and rejecting need the approve right on the campaign's region
    (an executive's decision is recorded as an override); the other steps need the change right."""

    model = Campaign
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    ordering_fields = ["id", "created_at", "updated_at", "state", "name"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        # Always the "view" scope: a campaign the caller sees but may not act on answers 403, not 404.
        return selectors.campaigns_for(self.request.user)

    def _fresh(self, campaign: Campaign) -> Campaign:
        return self.get_queryset().get(pk=campaign.pk)

    @extend_schema(responses=answers({200: CampaignDetailSerializer}, 401, 403, 404, 429))
    def retrieve(self, request, *args, **kwargs):
        campaign = self.get_object()
        context = {**self.get_serializer_context(), "arms": selectors.arm_summary(campaign)}
        context["lift"] = selectors.campaign_lift(campaign)
        return Response(CampaignDetailSerializer(campaign, context=context).data)

    @extend_schema(
        request=CampaignCreateSerializer,
        responses=answers({201: CampaignSerializer}, 400, 401, 403, 404, 429),
        summary="Draft a campaign in a region the caller may change",
    )
    def create(self, request, *args, **kwargs):
        data = dict(validated(CampaignCreateSerializer, request.data))
        region = changeable_region_or_404(request.user, data.pop("region"))
        audience_id, segment = data.pop("audience_id", None), data.pop("audience_segment", "")
        kind, ref = data.get("audience_kind", ""), data["audience_ref"]
        if audience_id is not None:
            _audience_label(request.user, region, audience_id, segment)  # a 400 naming an unknown one
            kind, ref = "strategy", {"audience_id": audience_id, "segment": segment}
        elif not kind and data["audience"]:
            kind, ref = parse_audience(data["audience"])
        campaign = services.campaign_create_draft(
            actor=request.user,
            region=region,
            name=data["name"],
            intervention=data["intervention"],
            arms=data.get("arms"),
            allocation=data["allocation"],
            audience_kind=kind,
            audience_ref=ref,
            holdout_share=data["holdout_share"],
            webhook_url=data["webhook_url"],
            reason=data["reason"] or "drafted through the API",
        )
        return Response(CampaignSerializer(self._fresh(campaign)).data, status=status.HTTP_201_CREATED)

    def _transition(self, request, verb: str) -> Response:
        campaign = self.get_object()
        needed = services.ACTION_NEEDED[verb]
        if not can(request.user, needed, campaign.region_id):
            record_denied(
                request.user, action=needed, what="campaign", object_id=str(campaign.pk), region_id=campaign.region_id
            )
            raise exceptions.PermissionDenied(f"You may not {verb} campaigns of region {campaign.region.code}.")
        reason = validated(TransitionSerializer, request.data)["reason"].strip()
        campaign = services.campaign_transition(actor=request.user, campaign_id=campaign.pk, action=verb, reason=reason)
        return Response(CampaignSerializer(self._fresh(campaign)).data)

    @_transition_doc("Submit a draft campaign for approval", 400, 401, 403, 404, 409, 429)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, "submit")

    @_transition_doc("Approve a pending campaign", 400, 401, 403, 404, 409, 429)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, "approve")

    @_transition_doc("Reject a pending campaign", 400, 401, 403, 404, 409, 429)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._transition(request, "reject")

    @_transition_doc("Start an approved campaign", 400, 401, 403, 404, 409, 429)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._transition(request, "start")

    @_transition_doc("Stop an approved or running campaign", 400, 401, 403, 404, 409, 429)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return self._transition(request, "stop")

    @_transition_doc("Complete a running campaign", 400, 401, 403, 404, 409, 429)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._transition(request, "complete")

    @extend_schema(
        responses=answers({200: AssignmentSerializer(many=True)}, 401, 403, 404, 409, 429),
        summary="The treated assignments to deliver: customer, arm, rendered message, propensity (paginated, CSV)",
    )
    @action(detail=True, methods=["get"])
    def assignments(self, request, pk=None):
        """What a partner sends: the treated customers (never the holdout) with their rendered message. While the
        kill switch covers the campaign's region nothing is handed out (409)."""
        campaign = self.get_object()
        if kill_switch_engaged(campaign.region_id):
            return error_response(409, "kill_switch", "The kill switch is engaged: nothing is delivered.")
        rows = selectors.campaign_assignments(request.user, campaign).filter(holdout=False)
        page = self.page_or_all(rows)
        return self.respond_list(AssignmentSerializer(page, many=True).data)

    @extend_schema(
        request=OutcomeBatchSerializer,
        responses=answers({200: OutcomeResultSerializer}, 400, 401, 403, 404, 429),
        summary="Write back outcomes of assigned customers: all or nothing",
    )
    @action(detail=True, methods=["post"])
    def outcomes(self, request, pk=None):
        """Every customer of the batch must be assigned to this campaign and visible to the caller; otherwise
        nothing is written and the answer (400) names the customers that are not."""
        campaign = self.get_object()
        if not can(request.user, "change", campaign.region_id):
            record_denied(
                request.user, action="change", what="campaign", object_id=str(campaign.pk), region_id=campaign.region_id
            )
            raise exceptions.PermissionDenied(f"You may not record outcomes in region {campaign.region.code}.")
        items = validated(OutcomeBatchSerializer, request.data)["outcomes"]
        outcomes = {item.pop("customer_id"): item for item in items}
        with transaction.atomic():
            unknown = _not_assigned(request.user, campaign, outcomes)
            if unknown:
                message = "Customers not assigned to this campaign (or not visible); nothing was recorded."
                return error_response(400, "invalid", message, {"customer_id": unknown})
            recorded = services.outcomes_record(actor=request.user, campaign_id=campaign.pk, outcomes=outcomes)
        return Response({"campaign": campaign.pk, "recorded": recorded})


def _audience_label(user, region, audience_id: int | None, segment: str) -> str | None:
    """The label of an audience strategy (and one of its segments) of the campaign's region, or None when
    none is named; an unknown one is a 400 naming it."""
    if audience_id is None:
        return None
    audience = segment_selectors.audiences(user, region_ids=[region.pk]).filter(pk=audience_id).first()
    if audience is None:
        message = f"No audience strategy {audience_id} in region {region.code}."
        raise exceptions.ValidationError({"audience_id": [message]})
    if not segment:
        return audience.name
    names = [row.get("segment") for row in (audience.result or {}).get("segments", [])]
    if segment not in names:
        choices = ", ".join(str(n) for n in names) or "none evaluated yet"
        raise exceptions.ValidationError(
            {"audience_segment": [f"{audience.name!r} has no segment {segment!r}; its segments: {choices}."]}
        )
    return f"{audience.name}: {segment}"[:200]


def _not_assigned(user, campaign: Campaign, outcomes: dict) -> list[int]:
    """Customer ids of the batch without an assignment in this campaign that the caller may change. Attempts on
    customers of other regions are audited, like every foreign lookup."""
    assigned = set(
        Assignment.objects.restrict(user, "change")
        .filter(campaign=campaign, customer_id__in=list(outcomes))
        .values_list("customer_id", flat=True)
    )
    unknown = sorted(set(outcomes) - assigned)
    changeable = Customer.objects.restrict(user, "change").values("pk")
    foreign = Customer.objects.filter(pk__in=unknown).exclude(pk__in=changeable).values_list("pk", "region_id")
    for cid, region_id in foreign:
        record_denied(user, action="change", what="customer", object_id=str(cid), region_id=region_id)
    return unknown
