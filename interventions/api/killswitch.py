"""The kill switch over the API: everyone with an API role reads it; executives and administrators engage or
release it for one region or for all (the same service as the portal page and the command)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cartportal.access import region_ids_for, visible_regions
from cartportal.api.base import error_response, validated
from cartportal.api.schema import ERRORS
from cartportal.errors import status_for
from cartportal.services import DomainError
from interventions import killswitch


class KillSwitchSerializer(serializers.Serializer):
    region = serializers.CharField(allow_null=True, help_text="Region code, or null for every region")
    engaged = serializers.BooleanField()
    reason = serializers.CharField()
    changed_by = serializers.CharField()
    changed_at = serializers.DateTimeField()


class KillSwitchChangeSerializer(serializers.Serializer):
    engaged = serializers.BooleanField()
    reason = serializers.CharField(max_length=2000)
    region = serializers.CharField(required=False, allow_blank=True, default="", help_text="Empty: every region")


class KillSwitchView(APIView):
    @extend_schema(responses={200: KillSwitchSerializer(many=True), **{c: ERRORS[c] for c in (401, 403, 429)}})
    def get(self, request):
        visible = region_ids_for(request.user)
        codes = None if visible is None else set(visible_regions(request.user).values_list("code", flat=True))
        rows = [s for s in killswitch.kill_switches() if s["region"] is None or codes is None or s["region"] in codes]
        return Response(KillSwitchSerializer(rows, many=True).data)

    @extend_schema(
        request=KillSwitchChangeSerializer,
        responses={200: KillSwitchSerializer(many=True), **{c: ERRORS[c] for c in (400, 401, 403, 404, 429)}},
        summary="Engage or release the kill switch of one region or of all (executives, administrators; audited)",
    )
    def post(self, request):
        data = validated(KillSwitchChangeSerializer, request.data)
        if not killswitch.may_change_kill_switch(request.user):
            return error_response(403, "permission_denied", "Only an executive or an administrator may do this.")
        region = None
        if data["region"]:
            region = visible_regions(request.user).filter(code__iexact=data["region"]).first()
            if region is None:
                return error_response(404, "not_found", "Not found.")
        try:
            killswitch.kill_switch_set(
                actor=request.user, engaged=data["engaged"], reason=data["reason"], region=region
            )
        except DomainError as exc:
            return error_response(status_for(exc.code), exc.code, exc.message)
        return self.get(request)
