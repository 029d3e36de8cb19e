"""What an intervention says to one customer: the values its template is filled with.

Each intervention code may have a provider, registered with `@register("code")` by the module that
knows how to choose its content (a product, a price, a companion, an alternative). A provider returns the
template's fill values, or raises `NothingToOffer` with a reason a person can read when there is
nothing sensible to offer that customer. Codes without a provider use `default_content`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Provider = Callable[..., dict[str, Any]]
PROVIDERS: dict[str, Provider] = {}


class NothingToOffer(Exception):
    """There is nothing sensible to offer this customer with this intervention (the reason says why)."""

    code = "nothing_to_offer"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def register(code: str) -> Callable[[Provider], Provider]:
    def decorate(provider: Provider) -> Provider:
        PROVIDERS[code] = provider
        return provider

    return decorate


def offer_content(*, intervention_code: str, customer, **context: Any) -> dict[str, Any]:
    """Template fill values for `customer` (a cartportal Customer); raises NothingToOffer."""
    provider = PROVIDERS.get(intervention_code, default_content)
    return provider(customer=customer, **context)


def default_content(*, customer, **context: Any) -> dict[str, Any]:
    raise NothingToOffer("this intervention has no content provider yet")
