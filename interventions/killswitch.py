"""The kill switch: per region, or one for every region. Engaging it stops the running campaigns it covers at
once; while engaged no campaign it covers starts, no customer is assigned and nothing is delivered (the
assignment job and the webhook sender check it before every batch and every message, the pull API refuses).
Executives and administrators change it; every change is audited with its reason."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from cartportal.access import KILL_SWITCH, authorize, has_capability
from cartportal.audit import actor_label, record
from cartportal.models import Region
from cartportal.services import DomainError
from interventions.models import Campaign, KillSwitch


def kill_switch_engaged(region_id: int | None = None) -> bool:
    """True when the global switch is engaged, or the switch of `region_id` (when given)."""
    covering = Q(region__isnull=True) | Q(region_id=region_id) if region_id else Q(region__isnull=True)
    return KillSwitch.objects.filter(covering, engaged=True).exists()


def kill_switches() -> list[dict]:
    """Every switch that has ever been set, global first (what the kill-switch page and API show)."""
    rows = KillSwitch.objects.select_related("region").order_by("region__code")
    return [
        {
            "region": row.region.code if row.region else None,
            "engaged": row.engaged,
            "reason": row.reason,
            "changed_by": row.changed_by,
            "changed_at": row.changed_at,
        }
        for row in sorted(rows, key=lambda r: r.region is not None)
    ]


def may_change_kill_switch(actor) -> bool:
    return has_capability(actor, KILL_SWITCH)


def kill_switch_set(*, actor, engaged: bool, reason: str, region: Region | None = None) -> KillSwitch:
    """Engage or release the switch of one region (or, without a region, of all); engaging stops the running
    campaigns it covers."""
    authorize(actor, KILL_SWITCH, what="kill switch")
    if not reason.strip():
        raise DomainError("a reason is required")
    with transaction.atomic():
        row = KillSwitch.objects.select_for_update().filter(region=region).order_by("pk").first()
        row = row or KillSwitch(region=region)
        before = row.engaged
        row.engaged, row.reason, row.changed_by = engaged, reason.strip(), actor_label(actor)
        row.save()
        record(
            actor=actor,
            action="interventions.kill_switch",
            object_type="interventions.killswitch",
            object_id=row.pk,
            region_code=region.code if region else "",
            before={"engaged": before},
            after={"engaged": engaged, "scope": region.code if region else "all regions"},
            reason=reason,
        )
        if engaged:
            _stop_running(actor, region, reason)
        return row


def _stop_running(actor, region: Region | None, reason: str) -> None:
    running = Campaign.objects.select_for_update().filter(state=Campaign.State.RUNNING).select_related("region")
    for campaign in running.filter(region=region) if region else running:
        campaign.state = Campaign.State.STOPPED
        campaign.save(update_fields=["state", "updated_at"])
        record(
            actor=actor,
            action="campaign.stop",
            object_type="interventions.campaign",
            object_id=campaign.pk,
            region_code=campaign.region.code,
            before={"state": "running"},
            after={"state": "stopped"},
            reason=f"kill switch: {reason}",
        )
