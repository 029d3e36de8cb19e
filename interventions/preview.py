"""What the first customers of a campaign's audience would receive, before anyone decides: each treated arm's
message rendered for them by the code assignment uses (content provider, template, guardrails), so a manager
drafting a bundle, house-brand or price-drop campaign sees the companion, the alternative or the price, and why.
A read: nothing is written."""

from __future__ import annotations

from collections import Counter

from django.utils import timezone

from cartportal.models import Customer
from interventions.assignment import eligibility, treated_arms
from interventions.delivery.render import render_message
from interventions.models import Campaign

TRIES = 25  # eligible customers tried at most (a provider may find nothing to offer many of them)


def campaign_preview(user, campaign: Campaign, *, wanted: int = 3) -> dict:
    """Up to `wanted` messages (customer, arm, text, reason) for the first eligible customers, and how many of the
    tried ones would be left out and why."""
    if not campaign.audience_kind:
        return {"ready": False, "reason": "the campaign has no saved audience"}
    eligible, _ = eligibility(user, campaign, timezone.now())
    tried = eligible[:TRIES]
    customers = Customer.objects.in_bulk(tried)
    messages, refusals = [], Counter()
    for customer_id in tried:
        for arm in treated_arms(campaign):
            rendered = render_message(arm, customers[customer_id])
            if rendered.refusal:
                refusals[rendered.refusal] += 1
            elif len(messages) < wanted:
                messages.append(
                    {
                        "customer": customers[customer_id].external_id,
                        "arm": arm,
                        "text": rendered.text,
                        "reason": str(rendered.values.get("reason", "")),
                    }
                )
        if len(messages) >= wanted:
            break
    if not tried:
        return {"ready": False, "reason": "nobody in the audience can be reached now (consent, erasure, contact cap)"}
    return {"ready": True, "messages": messages, "refusals": dict(refusals.most_common()), "tried": len(tried)}
