"""Drafting a win-back campaign for the top of the ranked dormant customers."""

from __future__ import annotations

from django.db import transaction

from cartportal.access import ensure_can
from cartportal.audit import record
from cartportal.models import Region
from cartportal.services import DomainError
from interventions import catalogue
from interventions.models import Campaign
from interventions.services import campaign_create_draft
from predictions.winback.selectors import winback_for

MAX_TOP = 100_000


def winback_campaign_draft(
    *, actor, region: Region, intervention: str, top: int, months: int = 3, reason: str = ""
) -> Campaign:
    """A draft campaign for the ``top`` dormant customers of ``region`` by return probability. The chosen
    customers, the model and the window are recorded in the audit trail with the draft."""
    ensure_can(actor, "change", region.pk, what="region")
    if intervention not in catalogue.WINBACK:
        raise DomainError(f"a win-back campaign uses one of {', '.join(catalogue.WINBACK)}, not {intervention!r}")
    if not 1 <= top <= MAX_TOP:
        raise DomainError(f"the number of customers must be between 1 and {MAX_TOP:,}")
    found = winback_for(actor, [region.pk], months=months)
    if found.problem:
        raise DomainError(f"no win-back list for {region.code}: {found.problem}", code="no_data")
    chosen = found.ranked.iloc[:top]
    with transaction.atomic():
        campaign = campaign_create_draft(
            actor=actor,
            region=region,
            name=f"Win back {region.code}: top {len(chosen)} dormant customers",
            intervention=intervention,
            audience=f"win-back top {len(chosen)} (dormant since {found.window['dormant'][0]})",
            reason=reason,
        )
        record(
            actor=actor,
            action="campaign.winback_audience",
            object_type="interventions.campaign",
            object_id=campaign.pk,
            region_code=region.code,
            after={
                "customers": [str(c) for c in chosen.index],
                "model": found.model,
                "window": found.window,
                "expected_returners": round(float(chosen["probability"].sum()), 1),
                "expected_value": round(float(chosen["expected_value"].sum()), 2),
            },
            reason=reason,
        )
        return campaign
