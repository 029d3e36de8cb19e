"""The intervention catalogue: what we may send, what it costs, who is eligible, and what it says.

Guardrails (tested in tests/interventions/test_catalogue_guardrails.py):
1. No fake scarcity: a message never claims limited stock, few items left or that others are looking.
2. No countdowns or invented deadlines: no "ends in", "only today", "last chance", timers.
3. No confirm-shaming and no pre-ticked extras: declining is as easy as accepting.
4. Every message names the shop's real offer and nothing else; discounts are stated as they are.
5. No hidden cost: a message never points at fees, charges or conditions it does not state.
6. A discount a message states is within the intervention's own limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GUARDRAIL_PATTERNS = {
    "fake scarcity": (
        r"\b(only \d+ left|few left|low stock|selling fast|almost gone|limited stock"
        r"|others are (looking|viewing)|in \d+ carts?)\b"
    ),
    "countdown": (
        r"\b(ends? (in|tonight|soon)|only today|today only|last chance|hurry|countdown|expires? in"
        r"|\d+\s*(h|hrs|hours|min|minutes) left)\b"
    ),
    "confirm-shaming": r"\b(no thanks,? i (don't|do not) (like|want) (saving|deals))\b",
    "hidden cost": (
        r"(\b(fees? apply|plus (fees?|charges?|handling|service)|excl(\.|uding)? (fees?|shipping|tax|vat)"
        r"|additional (fees?|charges?)|conditions apply|surcharge)\b|\*+\s*$)"
    ),
}
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|per ?cent)", re.IGNORECASE)


@dataclass(frozen=True)
class Intervention:
    code: str
    name: str
    description: str
    fixed_cost: float  # per message sent (channel cost)
    discount_rate: float  # share of the order value given away when the customer converts
    template: str

    def cost(self, expected_order_value: float, conversion_probability: float) -> float:
        """Expected cost of sending it to one customer."""
        return self.fixed_cost + self.discount_rate * expected_order_value * conversion_probability


CATALOGUE = {
    i.code: i
    for i in [
        Intervention(
            "price_drop",
            "Price-drop nudge",
            "Tell a customer an item they viewed or carted is now cheaper.",
            0.05,
            0.0,
            "The price of {product} has gone down from {old_price} to {new_price}.",
        ),
        Intervention(
            "review_reassurance",
            "Review reassurance",
            "Show verified reviews of an item left in the cart.",
            0.03,
            0.0,
            "Customers who bought {product} rate it {rating} out of 5 ({review_count} reviews).",
        ),
        Intervention(
            "bundle_offer",
            "Bundle offer",
            "Offer items often bought together with a stated discount.",
            0.05,
            0.10,
            "{product} is often bought with {companion}. Together they are {discount}% cheaper.",
        ),
        Intervention(
            "house_brand",
            "House-brand alternative",
            "Suggest the shop's own-brand alternative.",
            0.03,
            0.0,
            "Looking at {product}? Our own {alternative} does the same job for {price}.",
        ),
        Intervention(
            "reminder",
            "Reminder",
            "A plain reminder of the saved cart.",
            0.02,
            0.0,
            "You left {product} in your cart. It is saved there whenever you want it.",
        ),
        Intervention(
            "winback_discount",
            "Win-back discount",
            "A stated discount on the next order for a customer who has not bought for a while.",
            0.05,
            0.10,
            "It has been a while since your last order. Your next order is {discount}% cheaper with code {code}.",
        ),
        Intervention(
            "membership_discount",
            "Membership discount",
            "Invite a lapsed customer to the shop's membership, which has a standing discount.",
            0.05,
            0.05,
            "Members get {discount}% off every order. Join for free whenever you like: {link}.",
        ),
        Intervention(
            "referral_code",
            "Referral code",
            "A code to share: the friend and the customer each get a stated credit on their next order.",
            0.03,
            0.05,
            "Share code {code}: your friend gets {credit} off their first order and you get {credit} off your next.",
        ),
    ]
}


# The interventions a win-back campaign may use (the Win back page offers only these).
WINBACK = ("winback_discount", "membership_discount", "referral_code")


def guardrail_violations(text: str) -> list[str]:
    """Names of the guardrails a message breaks (empty = fine)."""
    return [name for name, pattern in GUARDRAIL_PATTERNS.items() if re.search(pattern, text, re.IGNORECASE)]


def message_violations(intervention: Intervention, text: str) -> list[str]:
    """Every guardrail a rendered message breaks, including a stated discount above the intervention's limit."""
    found = guardrail_violations(text)
    limit = intervention.discount_rate * 100
    if any(float(match) > limit + 1e-9 for match in PERCENT.findall(text)):
        found.append("discount over limit")
    return found


def get(code: str) -> Intervention:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise ValueError(f"unknown intervention {code!r}; choose one of {', '.join(CATALOGUE)}") from None


def eligible(intervention: Intervention, customer) -> bool:
    """Marketing consent is required for every intervention; erased customers get nothing."""
    return bool(customer.consent_marketing) and customer.erased_at is None


def next_best_action(uplift_by_code: dict[str, float], order_value: float, base_probability: float, margin: float):
    """The intervention with the highest expected incremental margin after cost, or None when none pays."""
    best, best_value = None, 0.0
    for code, uplift in uplift_by_code.items():
        item = get(code)
        value = uplift * order_value * (margin - item.discount_rate) - item.cost(order_value, base_probability)
        if value > best_value:
            best, best_value = code, value
    return best, best_value
