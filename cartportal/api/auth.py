"""Partner token authentication and the token scope permission (kept apart from views: DRF imports these
while it loads its settings)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation

from cartportal.models import PartnerToken


class PartnerTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`: the token's regions narrow its user's regions, its scopes its methods."""

    keyword = b"token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <key>'.")
        key = parts[1].decode("latin-1")
        token = PartnerToken.objects.select_related("user").filter(key_hash=PartnerToken.hash_key(key)).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        PartnerToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        user = token.user
        user.partner_token = token
        return user, token

    def authenticate_header(self, request):
        return "Token"


class TokenScopes(permissions.BasePermission):
    """A token needs the "read" scope for safe methods and "write" for the others; session users pass."""

    message = "This token's scopes do not allow this request."

    def has_permission(self, request, view):
        token = request.auth if isinstance(request.auth, PartnerToken) else None
        if token is None:
            return True
        needed = "read" if request.method in permissions.SAFE_METHODS else "write"
        return needed in (token.scopes or [])


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The API speaks JSON whatever the Accept header says (a browser's text/html included)."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
