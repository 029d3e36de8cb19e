"""Drafting a win-back campaign for the top of the ranked dormant customers."""

from __future__ import annotations

from django.db import transaction

from cartportal.access import ensure_can
from cartportal.audit import record
from cartportal.models import Customer, Region
from cartportal.services import DomainError
from interventions import catalogue
from interventions.audiences import audience_list_create
from interventions.models import Campaign
from interventions.services import campaign_create_draft
from predictions.winback.selectors import winback_for

MAX_TOP = 100_000


def winback_campaign_draft(
    *, actor, region: Region, intervention: str, top: int, months: int = 3, reason: str = ""
) -> Campaign:
    """A draft campaign for the ``top`` dormant customers of ``region`` by return probability, targeting a saved
    customer list of exactly those customers (so starting it assigns the eligible ones among them). The chosen
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
    label = f"win-back top {len(chosen)} (dormant since {found.window['dormant'][0]})"
    with transaction.atomic():
        customers = _customer_pks(region, [str(c) for c in chosen.index])
        members = audience_list_create(actor=actor, region=region, name=label, customer_ids=customers)
        campaign = campaign_create_draft(
            actor=actor,
            region=region,
            name=f"Win back {region.code}: top {len(chosen)} dormant customers",
            intervention=intervention,
            audience_kind="list",
            audience_ref={"list_id": members.pk},
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
                "customer_list": members.pk,
                "model": found.model,
                "window": found.window,
                "expected_returners": round(float(chosen["probability"].sum()), 1),
                "expected_value": round(float(chosen["expected_value"].sum()), 2),
            },
            reason=reason,
        )
        return campaign


def _customer_pks(region: Region, external_ids: list[str]) -> list[int]:
    """The region's customers behind the ranked external ids; an id that no longer resolves (erased and purged
    since the list was computed) is an error rather than a silently shorter audience."""
    found = dict(Customer.objects.filter(region=region, external_id__in=external_ids).values_list("external_id", "pk"))
    missing = [c for c in external_ids if c not in found]
    if missing:
        raise DomainError(f"customers no longer in region {region.code}: {', '.join(missing[:20])}")
    return [found[c] for c in external_ids]
