"""Content providers for the win-back interventions: a stated discount with a personal code, the membership
invitation, and a referral code with a credit in the region's currency.

A personal code is derived from the customer (region and external id) with an HMAC keyed by the installation's
secret, so the shop's checkout can check a code it is shown (`code_is_valid`) without a table of issued codes, and
the same customer always gets the same code."""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg

from cartportal.models import Customer, Order
from interventions import catalogue
from interventions.content import NothingToOffer, register

CODE_PREFIX = {"winback_discount": "BACK", "referral_code": "REF"}
CODE_LENGTH = 8  # base32 characters of the HMAC: 40 bits, not guessable by trying codes at a checkout
# A referral credit below this (in the region's currency) is not worth a message.
MIN_CREDIT = Decimal("1.00")


def customer_code(intervention_code: str, customer: Customer) -> str:
    """The customer's personal code for the intervention: deterministic, and only the installation can mint it."""
    message = f"{intervention_code}:{customer.region_id}:{customer.external_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()
    return f"{CODE_PREFIX[intervention_code]}-{base64.b32encode(digest).decode()[:CODE_LENGTH]}"


def code_is_valid(intervention_code: str, customer: Customer, code: str) -> bool:
    return hmac.compare_digest(customer_code(intervention_code, customer), (code or "").strip().upper())


def _past_orders(customer: Customer):
    return Order.objects.filter(customer=customer, total__gt=0).exclude(
        status__in=[Order.Status.CANCELLED, Order.Status.RETURNED]
    )


def _percent(intervention_code: str) -> int:
    """The discount the message states: the intervention's own limit, as a whole percentage (never above it)."""
    return int(catalogue.get(intervention_code).discount_rate * 100 + 1e-9)


def _lapsed(customer: Customer) -> None:
    if customer.erased_at is not None:
        raise NothingToOffer("the customer's data is erased")
    if not _past_orders(customer).exists():
        raise NothingToOffer("the customer has never bought: there is nothing to win back")


@register("winback_discount")
def winback_discount_content(*, customer: Customer, **context: Any) -> dict[str, Any]:
    _lapsed(customer)
    return {"discount": _percent("winback_discount"), "code": customer_code("winback_discount", customer)}


@register("membership_discount")
def membership_discount_content(*, customer: Customer, **context: Any) -> dict[str, Any]:
    _lapsed(customer)
    link = settings.CARTPORTAL_MEMBERSHIP_URL.strip()
    if not link:
        raise NothingToOffer("no membership page is configured (CARTPORTAL_MEMBERSHIP_URL)")
    return {"discount": _percent("membership_discount"), "link": link}


@register("referral_code")
def referral_code_content(*, customer: Customer, **context: Any) -> dict[str, Any]:
    """The credit is the intervention's rate of the customer's own average order, so what is given away scales
    with what the customer (and, likely, a friend like them) spends."""
    _lapsed(customer)
    average = _past_orders(customer).aggregate(v=Avg("total"))["v"] or Decimal(0)
    rate = Decimal(str(catalogue.get("referral_code").discount_rate))
    credit = (Decimal(average) * rate).quantize(Decimal("0.01"))
    if credit < MIN_CREDIT:
        raise NothingToOffer(f"the customer's orders are too small for a referral credit of at least {MIN_CREDIT}")
    currency = customer.region.currency if customer.region_id else ""
    return {"code": customer_code("referral_code", customer), "credit": f"{credit} {currency}".strip()}
