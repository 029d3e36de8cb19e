"""One message for one customer: the intervention's template filled by its content provider, then checked
against every guardrail. A refusal (nothing to offer, or a guardrail broken) leaves the customer out of the
campaign and is counted by its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from interventions import catalogue
from interventions.content import NothingToOffer, offer_content


@dataclass
class Rendered:
    text: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    refusal: str = ""  # empty when the message may be sent

    def as_content(self) -> dict[str, Any]:
        return {"text": self.text, "values": self.values}


def render_message(intervention_code: str, customer, **context: Any) -> Rendered:
    intervention = catalogue.get(intervention_code)
    try:
        values = offer_content(intervention_code=intervention_code, customer=customer, **context)
    except NothingToOffer as exc:
        return Rendered(refusal=f"nothing to offer: {exc.reason}")
    try:
        text = intervention.template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        return Rendered(values=values, refusal=f"template could not be filled: {exc}")
    broken = catalogue.message_violations(intervention, text) + _price_cut_over_limit(values)
    if broken:
        return Rendered(text=text, values=values, refusal=f"guardrail: {', '.join(broken)}")
    return Rendered(text=text, values=values)


def _price_cut_over_limit(values: dict[str, Any]) -> list[str]:
    """A message that quotes an old and a new price gives the difference away: it must stay within the largest
    discount any intervention may give (CARTPORTAL_MAX_DISCOUNT_RATE)."""
    try:
        old, new = float(values["old_price"]), float(values["new_price"])
    except (KeyError, TypeError, ValueError):
        return []
    if old <= 0 or 1 - new / old <= settings.CARTPORTAL_MAX_DISCOUNT_RATE + 1e-9:
        return []
    return ["discount over limit"]
