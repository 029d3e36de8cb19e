"""Authentication, permission, throttle and pagination classes of the API.

Kept apart from the viewsets (cartportal.api.base) because REST framework imports these classes while its
views module is being loaded; this module must therefore not import rest_framework.views.
"""

from __future__ import annotations

from typing import NamedTuple

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.throttling import SimpleRateThrottle


# --- Authentication ------------------------------------------------------------------------------------
class PartnerTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`. Only the key's hash is stored (PartnerToken.hash_key)."""

    keyword = "Token"

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <key>'.")
        try:
            key = auth[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header: the key is not valid text.") from exc
        return self.authenticate_credentials(key, request)

    def authenticate_credentials(self, key: str, request=None):
        from cartportal.api import principals
        from cartportal.models import PartnerToken

        key_hash = PartnerToken.hash_key(key)
        # For a token this process has resolved before, the view's token throttle counts the request in the same
        # round trip that reads the access generation; an unknown key is never counted (it leaves no counter behind).
        ahead = TokenRateThrottle.count_ahead(request, key_hash) if principals.kept_here(key_hash) else None
        resolved, counts = principals.lookup(key_hash, ahead)
        if ahead is not None:
            request._cp_token_counted = (ahead, counts)
        if resolved is None:
            token = PartnerToken.objects.select_related("user").filter(key_hash=key_hash).first()
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid token.")
            resolved = principals.resolve(token)
        user, token = resolved
        now = timezone.now()
        # Checked on every request against the (possibly cached) token: a revocation or expiry that takes effect
        # later needs no cache invalidation.
        if token.revoked_at is not None and token.revoked_at <= now:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        expires_at = getattr(token, "expires_at", None)
        if expires_at is not None and expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        principals.note_use(token, now)
        return (user, token)

    def authenticate_header(self, request):
        return self.keyword


class PortalSessionAuthentication(SessionAuthentication):
    """Portal users in the browser; CSRF is enforced for unsafe methods as usual."""


def token_of(request):
    return getattr(getattr(request, "user", None), "partner_token", None)


# --- Permissions ---------------------------------------------------------------------------------------
class TokenScopePermission(BasePermission):
    """A token needs "read" for safe methods and "write" for the others."""

    message = "This token lacks the scope needed for this request."

    def has_permission(self, request, view):
        token = token_of(request)
        if token is None:
            return True
        reads_only = request.method in SAFE_METHODS or getattr(view, "read_only_post", False)
        needed = "read" if reads_only else "write"
        scopes = set(token.scopes or [])
        if needed not in scopes:
            self.message = f"This token lacks the '{needed}' scope."
            return False
        return True


DEFAULT_PERMISSIONS = [IsAuthenticated, TokenScopePermission]


class HasRole(BasePermission):
    """Allow only users with one of `view.required_roles` (superusers always)."""

    def has_permission(self, request, view):
        from cartportal.access import has_role

        roles = getattr(view, "required_roles", ())
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or has_role(user, *roles)))


# --- Throttling ----------------------------------------------------------------------------------------
class CountAhead(NamedTuple):
    """A token's request counted while it is authenticated: the counter key, its window, the window's length and
    the moment (`TokenRateThrottle.count_ahead`)."""

    key: str
    window: int
    seconds: int
    now: float


class TokenRateThrottle(SimpleRateThrottle):
    """Rate per partner token (scope 'token'); portal sessions are throttled per user (scope 'user'), anonymous
    callers per address (scope 'anon').

    The budget is a sliding-window estimate kept in two counters of the shared cache (so it is one budget for every
    web process): the requests of the current fixed window and of the one before, weighted by how much of it still
    lies within the last `duration` seconds. A request is counted and checked in one round trip (an atomic
    increment); a refused request is taken back out of the count. Unlike REST framework's default, which keeps the
    timestamp of every request in one cache value and writes the whole list back on each request, the cost does not
    grow with the rate, and two processes counting at once cannot overwrite each other's requests."""

    scope = "token"

    def __init__(self):  # the rate is chosen per request in get_cache_key
        pass

    def get_rate(self):
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        token = token_of(request)
        if token is not None:
            self.scope = "token"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
            return None if self.rate is None else self.token_key(token.key_hash)
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
            self.scope = "user"
        else:
            ident = f"anon-{self.get_ident(request)}"
            self.scope = "anon"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}

    @classmethod
    def token_key(cls, key_hash: str) -> str:
        return cls.cache_format % {"scope": "token", "ident": f"token-{key_hash[:32]}"}

    @classmethod
    def count_ahead(cls, request, key_hash: str) -> CountAhead | None:
        """How to count a token's request while authenticating it, when the request's view throttles with this class
        and tokens have a rate; else None. `allow_request` then uses those counts."""
        view = (getattr(request, "parser_context", None) or {}).get("view")
        throttles = getattr(view, "throttle_classes", ())
        if not any(isinstance(throttle, type) and issubclass(throttle, cls) for throttle in throttles):
            return None
        from rest_framework.settings import api_settings

        rate = api_settings.DEFAULT_THROTTLE_RATES.get("token")
        if rate is None:
            return None
        _, duration = SimpleRateThrottle.parse_rate(None, rate)
        now = cls().timer()  # the clock as the throttle reads it
        return CountAhead(cls.token_key(key_hash), int(now // duration), duration, now)

    def allow_request(self, request, view):
        from cartportal import cache as counters

        self.key = self.get_cache_key(request, view)  # also sets the rate for this request's kind
        if self.key is None:
            return True
        counted = getattr(request, "_cp_token_counted", None)
        if counted is not None and counted[0].key == self.key:
            # counted while the token was authenticated (PartnerTokenAuthentication), at that moment
            ahead, (current, self.previous) = counted
            self.window, self.now = ahead.window, ahead.now
        else:
            self.now = self.timer()
            self.window = int(self.now // self.duration)
            current, self.previous = counters.hit(self.key, self.window, self.duration)
        self.elapsed = (self.now - self.window * self.duration) / self.duration  # share of the window gone by
        self.current = current - 1  # requests before this one
        if self.previous * (1 - self.elapsed) + current <= self.num_requests:
            return True
        counters.unhit(self.key, self.window)
        return self.throttle_failure()

    def wait(self):
        """Seconds until one more request fits the estimate: the previous window's weight falls as time passes,
        and at the next window the current count becomes the previous one."""
        excess = self.previous * (1 - self.elapsed) + self.current + 1 - self.num_requests
        left = (1 - self.elapsed) * self.duration
        if self.previous > 0 and excess * self.duration / self.previous <= left:
            return max(excess * self.duration / self.previous, 0.0)
        if self.current + 1 <= self.num_requests:
            return left
        if self.num_requests < 1:  # a rate of zero: no request ever fits
            return None
        # in the next window the estimate is current * (1 - share gone) + 1; it fits once that share is reached
        share = 1 - (self.num_requests - 1) / self.current
        return left + max(share, 0.0) * self.duration


# --- Pagination ----------------------------------------------------------------------------------------
class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CustomerPagination(StandardPagination):
    """The customer list's pages: the total is kept between requests (cartportal/api/counts.py), under what the
    view says its list selects (`view.count_identity()`: the caller's regions and the filters)."""

    identity = None

    def paginate_queryset(self, queryset, request, view=None):
        identity = getattr(view, "count_identity", None)
        self.identity = identity() if identity is not None else None
        return super().paginate_queryset(queryset, request, view)

    @property
    def django_paginator_class(self):
        import functools

        from cartportal.api.counts import CachedCountPaginator

        return functools.partial(CachedCountPaginator, identity=self.identity)


# --- Content negotiation -------------------------------------------------------------------------------
class FallbackContentNegotiation(DefaultContentNegotiation):
    """An Accept header no renderer satisfies (a browser's text/html) gets the default renderer (JSON) rather
    than a 406; an explicit unknown `?format=` still answers 404 as REST framework does."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            format_query_param = self.settings.URL_FORMAT_OVERRIDE
            if format_suffix or request.query_params.get(format_query_param):
                raise
            return (renderers[0], renderers[0].media_type)


# Names used by code written against an earlier draft of this module.
TokenScopes = TokenScopePermission
JSONOnlyNegotiation = FallbackContentNegotiation
