"""OpenAPI descriptions of the API's authentication and its one error body."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
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
