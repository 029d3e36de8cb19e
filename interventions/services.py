"""Campaign writes: drafting, the approval state machine, the kill switch, assignment and outcomes.

Every service takes the actor, runs in a transaction, re-checks the region and writes exactly one audit row
per state change (with the reason given).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from cartportal.access import (
    EXECUTIVE,
    can,
    ensure_can,
    get_scoped_or_404,
    has_role,
    holds_grant,
    is_system,
)
from cartportal.audit import actor_label, record
from cartportal.errors import Forbidden
from cartportal.models import Customer, Region
from cartportal.services import DomainError
from interventions import catalogue, selectors
from interventions.assignment import campaign_assign_start
from interventions.audiences import audience_resolve
from interventions.holdout import in_holdout
from interventions.killswitch import kill_switch_engaged, kill_switch_set  # noqa: F401 (the services API)
from interventions.models import Assignment, Campaign

S = Campaign.State
TRANSITIONS = {
    "submit": ({S.DRAFT}, S.PENDING),
    "approve": ({S.PENDING}, S.APPROVED),
    "reject": ({S.PENDING}, S.REJECTED),
    "start": ({S.APPROVED}, S.RUNNING),
    "complete": ({S.RUNNING}, S.COMPLETED),
    "stop": ({S.RUNNING, S.APPROVED}, S.STOPPED),
}
ACTION_NEEDED = {
    "submit": "change",
    "approve": "approve",
    "reject": "approve",
    "start": "change",
    "complete": "change",
    "stop": "change",
}
TREATED_ARM, HOLDOUT_ARM = "treated", "holdout"
ALLOCATIONS = ("thompson", "uniform")


def _audit(actor, campaign: Campaign, action: str, *, before=None, after=None, reason: str = "") -> None:
    record(
        actor=actor,
        action=f"campaign.{action}",
        object_type="interventions.campaign",
        object_id=campaign.pk,
        region_code=campaign.region.code,
        before=before,
        after=after,
        reason=reason,
    )


def campaign_create_draft(
    *,
    actor,
    region: Region,
    name: str,
    intervention: str,
    audience: str = "",
    holdout_share: float = 0.1,
    reason: str = "",
    audience_kind: str = "",
    audience_ref: dict | None = None,
    arms: list[str] | None = None,
    allocation: str = "thompson",
    webhook_url: str = "",
) -> Campaign:
    """A draft in `region`. The audience (kind + ref, see interventions.audiences) is checked now; the treated arms
    are `arms` (intervention codes; default the one intervention) plus the holdout."""
    arms = _checked_arms(intervention, arms)
    if not name.strip():
        raise DomainError("a campaign needs a name")
    if not 0.0 <= float(holdout_share) < 1.0:
        raise DomainError("holdout share must be at least 0 and below 1")
    if allocation not in ALLOCATIONS:
        raise DomainError(f"unknown allocation {allocation!r}; choose one of {', '.join(ALLOCATIONS)}")
    webhook_url = _checked_webhook(webhook_url)
    with transaction.atomic():
        ensure_can(actor, "change", region.pk, what="region")
        if audience_kind:
            audience_ref, audience = audience_resolve(actor, region, audience_kind, audience_ref or {})
        campaign = Campaign.objects.create(
            region=region,
            name=name.strip(),
            intervention=arms[0],
            audience=audience,
            audience_kind=audience_kind,
            audience_ref=audience_ref or {},
            arms=arms,
            allocation=allocation,
            holdout_share=float(holdout_share),
            webhook_url=webhook_url,
            webhook_secret=secrets.token_hex(32) if webhook_url else "",
            created_by=actor_label(actor),
        )
        _audit(
            actor,
            campaign,
            "create",
            after={
                "state": campaign.state,
                "arms": arms,
                "allocation": allocation,
                "audience": {"kind": audience_kind, **campaign.audience_ref},
                "holdout_share": campaign.holdout_share,
                "webhook": bool(webhook_url),
            },
            reason=reason,
        )
        return campaign


def _checked_arms(intervention: str, arms: list[str] | None) -> list[str]:
    arms = list(dict.fromkeys(arms or [intervention]))
    unknown = [code for code in arms if code not in catalogue.CATALOGUE]
    if unknown or not arms:
        raise DomainError(
            f"unknown intervention {', '.join(map(repr, unknown or [intervention]))}; "
            f"choose from {', '.join(catalogue.CATALOGUE)}"
        )
    return arms


def _checked_webhook(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise DomainError(f"{url!r} is not a URL") from None
    if parts.scheme != "https" or not parts.hostname:
        raise DomainError("a webhook URL must be https://HOST/...")
    return url


def campaign_transition(*, actor, campaign_id: int, action: str, reason: str = "") -> Campaign:
    """Move a campaign along draft → pending → approved/rejected → running → completed/stopped."""
    if action not in TRANSITIONS:
        raise DomainError(f"unknown action {action!r}")
    allowed_from, target = TRANSITIONS[action]
    needed = ACTION_NEEDED[action]
    with transaction.atomic():
        campaign = get_scoped_or_404(Campaign.objects.select_for_update(), actor, needed, pk=campaign_id)
        if campaign.state not in allowed_from:
            raise DomainError(
                f"cannot {action} a campaign that is {campaign.get_state_display().lower()}", code="invalid_state"
            )
        if action in ("approve", "reject", "stop") and not reason.strip():
            raise DomainError(f"a reason is required to {action}")
        if action == "approve" and _own_campaign(actor, campaign):
            raise Forbidden("four eyes: a campaign is approved by someone other than its author")
        if action == "start" and kill_switch_engaged(campaign.region_id):
            raise DomainError("the kill switch is engaged: no campaign may start", code="kill_switch")
        if action == "submit" and not campaign.audience_kind:
            raise DomainError("choose a saved audience before submitting the campaign for approval")
        before = campaign.state
        campaign.state = target
        if action in ("approve", "reject"):
            campaign.decided_by = actor_label(actor)
            campaign.decision_reason = reason
            campaign.override = has_role(actor, EXECUTIVE) and not _is_regional_approver(actor, campaign)
        campaign.save()
        ensure_can(actor, needed, campaign.region_id, what="campaign")
        if action == "start":
            campaign_assign_start(actor=actor, campaign=campaign)
        _audit(
            actor,
            campaign,
            action,
            before={"state": before},
            after={"state": campaign.state, "override": campaign.override},
            reason=reason,
        )
        return campaign


def _is_regional_approver(actor, campaign: Campaign) -> bool:
    """True when the actor holds the approve grant on that region itself (not only the executive bypass)."""
    return getattr(actor, "is_superuser", False) or holds_grant(actor, "approve", campaign.region_id)


def week_start(at: dt.datetime) -> dt.datetime:
    day = at - dt.timedelta(days=at.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def promotions_this_week(customer_ids: Iterable[int], at: dt.datetime) -> dict[int, int]:
    start = week_start(at)
    rows = (
        Assignment.objects.filter(
            customer_id__in=list(customer_ids),
            holdout=False,
            assigned_at__gte=start,
            assigned_at__lt=start + dt.timedelta(days=7),
        )
        .values("customer_id")
        .annotate(n=Count("id"))
    )
    return {r["customer_id"]: r["n"] for r in rows}


def campaign_assign(
    *,
    actor,
    campaign_id: int,
    customer_ids: Iterable[int],
    at: dt.datetime | None = None,
    arms: dict[int, tuple[str, bool]] | None = None,
    allow_states=(S.RUNNING,),
) -> dict:
    """Assign customers of the campaign's region: holdout by hash(campaign, customer) at the campaign's share,
    or the arms given (a past experiment: customer id → (arm, is_control)). Customers without marketing
    consent, erased ones, and those who already had the weekly cap of promotions are skipped."""
    at = at or timezone.now()
    cap = settings.CARTPORTAL_WEEKLY_PROMOTION_CAP
    with transaction.atomic():
        campaign = get_scoped_or_404(Campaign.objects.select_for_update(), actor, "change", pk=campaign_id)
        if campaign.state not in allow_states:
            raise DomainError("customers can only be assigned to a running campaign", code="invalid_state")
        if kill_switch_engaged(campaign.region_id):
            raise DomainError("the kill switch is engaged: no assignments", code="kill_switch")
        ids = list(customer_ids)
        eligible = list(
            Customer.objects.filter(
                pk__in=ids, region_id=campaign.region_id, consent_marketing=True, erased_at__isnull=True
            ).values_list("pk", flat=True)
        )
        already = set(
            Assignment.objects.filter(campaign=campaign, customer_id__in=eligible).values_list("customer_id", flat=True)
        )
        counts = promotions_this_week(eligible, at)
        features = selectors.customer_features(actor, eligible)
        rows, capped = [], 0
        for cid in eligible:
            if cid in already:
                continue
            arm, holdout = (
                arms[cid]
                if arms is not None
                else (
                    (HOLDOUT_ARM, True)
                    if in_holdout(campaign.pk, cid, campaign.holdout_share)
                    else (TREATED_ARM, False)
                )
            )
            if not holdout and counts.get(cid, 0) >= cap:
                capped += 1
                continue
            rows.append(
                Assignment(
                    campaign=campaign,
                    customer_id=cid,
                    arm=arm,
                    holdout=holdout,
                    assigned_at=at,
                    features=features.get(cid, {}),
                )
            )
        Assignment.objects.bulk_create(rows, batch_size=5000)
        summary = {
            "requested": len(ids),
            "assigned": len(rows),
            "holdout": sum(r.holdout for r in rows),
            "skipped_no_consent_or_other_region": len(ids) - len(eligible),
            "skipped_cap": capped,
            "already_assigned": len(already),
        }
        _audit(actor, campaign, "assign", after=summary)
        return summary


def outcomes_record(*, actor, campaign_id: int, outcomes: dict[int, dict], at: dt.datetime | None = None) -> int:
    """Write back outcomes per customer id: {visited, converted, revenue}. Returns rows updated."""
    at = at or timezone.now()
    with transaction.atomic():
        campaign = get_scoped_or_404(Campaign.objects.all(), actor, "change", pk=campaign_id)
        by_customer = {
            a.customer_id: a for a in Assignment.objects.filter(campaign=campaign, customer_id__in=list(outcomes))
        }
        changed = []
        for cid, values in outcomes.items():
            row = by_customer.get(cid)
            if row is None:
                continue
            for field in ("visited", "converted"):
                if field in values and values[field] is not None:
                    setattr(row, field, bool(values[field]))
            if values.get("revenue") is not None:
                row.revenue = Decimal(str(values["revenue"]))
            row.outcome_at, row.outcome_source = at, "partner"
            changed.append(row)
        Assignment.objects.bulk_update(
            changed, ["visited", "converted", "revenue", "outcome_at", "outcome_source"], batch_size=5000
        )
        _audit(actor, campaign, "outcomes", after={"received": len(outcomes), "recorded": len(changed)})
        return len(changed)


def can_approve(user, campaign: Campaign) -> bool:
    return can(user, "approve", campaign.region_id) and not _own_campaign(user, campaign)


def _own_campaign(actor, campaign: Campaign) -> bool:
    """Four eyes (a setting, on by default): a person may not approve the campaign they drafted. Commands and tasks
    (the demo seed) are not people and are exempt."""
    return settings.CARTPORTAL_FOUR_EYES and not is_system(actor) and campaign.created_by == actor_label(actor)
