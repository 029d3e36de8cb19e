"""OpenAPI descriptions of the API's authentication and its one error body."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "cartportal.api.auth.PartnerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Partner token, sent as `Token <key>`. Bound to regions and to the scopes read/write.",
        }


class PortalSessionScheme(OpenApiAuthenticationExtension):
    target_class = "cartportal.api.auth.PortalSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "A portal login session."}


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.JSONField())


class ErrorSerializer(serializers.Serializer):
    """Every error of the API has this body."""

    error = ErrorDetailSerializer()


# The error answers every endpoint may give, in the one error shape, for the OpenAPI document.
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated"),
    403: OpenApiResponse(ErrorSerializer, description="Token scope or role missing"),
    404: OpenApiResponse(ErrorSerializer, description="Missing, or in a region the caller may not see"),
    409: OpenApiResponse(ErrorSerializer, description="Not possible in the current state"),
    429: OpenApiResponse(ErrorSerializer, description="Throttled"),
    503: OpenApiResponse(ErrorSerializer, description="Not available yet"),
}


def responses(ok: dict, *codes: int, conflict: str | None = None) -> dict:
    """An endpoint's documented answers: its success responses plus the listed error codes (``conflict`` says what a
    409 means for this resource)."""
    out = {code: ERRORS[code] for code in codes}
    if conflict and 409 in codes:
        out[409] = OpenApiResponse(ErrorSerializer, description=conflict)
    out.update(ok)
    return out
