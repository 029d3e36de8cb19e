"""The what-if simulator over the API: the same selector as the simulator page, so both give the same figures."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cartportal.access import NotFoundOrForbidden, visible_regions
from cartportal.api.auth import DEFAULT_PERMISSIONS
from cartportal.api.schema import ERRORS
from interventions import simulator
from interventions.catalogue import CATALOGUE


class SimulationQuerySerializer(serializers.Serializer):
    region = serializers.CharField(max_length=64, help_text="region code")
    audience = serializers.CharField(
        max_length=200,
        help_text="a campaign's one-line audience: value_group:<code>, rfm:<code>, persona:<code>, "
        "strategy:<id>[:<segment>], at_risk[:<threshold>] or list:<id> (segment:<kind>:<code> and "
        "audience:<id>[:<segment>] are still understood)",
    )
    intervention = serializers.ChoiceField(choices=list(CATALOGUE))
    discount = serializers.FloatField(
        required=False, min_value=0.0, help_text="share of the price given away (default: the intervention's)"
    )
    holdout_share = serializers.FloatField(required=False, default=0.1, min_value=0.0, max_value=0.9)
    channel = serializers.ChoiceField(choices=list(simulator.CHANNELS), required=False, default="email")
    message_cost = serializers.FloatField(required=False, min_value=0.0)
    campaign = serializers.IntegerField(required=False, min_value=1, help_text="a campaign that ran, to compare")
    treated_arm = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)

    def validate_discount(self, value: float) -> float:
        if value > settings.CARTPORTAL_MAX_DISCOUNT_RATE:
            raise serializers.ValidationError(
                f"at most {settings.CARTPORTAL_MAX_DISCOUNT_RATE} (the guardrail's limit)"
            )
        return value


class SimulatorView(APIView):
    """What a campaign would do: reach after consent and caps, incremental conversions, revenue, cost and net
    margin with 95 % intervals; with `campaign`, the prediction against that campaign's measured lift."""

    permission_classes = DEFAULT_PERMISSIONS

    @extend_schema(
        summary="Simulate an intervention on a saved audience",
        parameters=[SimulationQuerySerializer],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The simulation"),
            **{code: ERRORS[code] for code in (400, 401, 403, 404, 429)},
        },
    )
    def get(self, request):
        query = SimulationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        region = visible_regions(request.user).filter(code=data["region"]).first()
        if region is None:
            raise NotFoundOrForbidden("No region matches the given query.")  # foreign answers like missing
        plan = simulator.Plan(
            region=region,
            audience=data["audience"],
            intervention=data["intervention"],
            discount=data.get("discount"),
            holdout_share=data["holdout_share"],
            channel=data["channel"],
            message_cost=data.get("message_cost"),
            campaign_id=data.get("campaign"),
            treated_arm=data["treated_arm"].strip(),
        )
        return Response(simulator.simulate(request.user, plan))
