"""What needs me today: the home page of each role, and the same events for the e-mail notifications.

Every read starts from the reader's scope: a manager sees the campaigns they may approve in their regions, the open
carts, failed jobs and imports with quarantined rows of their regions; an executive the rollup's change over the last
week; compliance the access denials and the audit chain; an analyst the models and jobs. Model drift is global (the
models are), so it is shown to everyone who acts on the models' output.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from cartportal.access import ADMIN, ANALYST, COMPLIANCE, EXECUTIVE, REGIONAL_MANAGER, has_role, region_ids_for
from cartportal.models import JobRun
from cartportal.selectors import may_read_audit, scoped_audit_events
from interventions.selectors import approvals_for, campaign_results_by_region
from interventions.services import can_approve
from predictions.abandonment.selectors import at_risk
from predictions.models import DriftReport, Kind
from predictions.selectors import kinds_overview, latest_run, revenue_at_risk_by_region

from .executive import regional_rollup

RECENT = dt.timedelta(days=7)
TOP_CARTS = 5
LIST_LIMIT = 10


def roles_of(user) -> list[str]:
    """The home sections a user gets, in the order they are shown."""
    if user.is_superuser:
        return ["manager", "executive", "compliance", "analyst"]
    sections = []
    if has_role(user, REGIONAL_MANAGER) or region_ids_for(user, "approve"):
        sections.append("manager")
    if has_role(user, EXECUTIVE, ADMIN):
        sections.append("executive")
    if has_role(user, COMPLIANCE):
        sections.append("compliance")
    if has_role(user, ANALYST):
        sections.append("analyst")
    return sections


def campaigns_to_approve(user, since: dt.datetime | None = None) -> list:
    """Pending campaigns in the regions the user may approve in, except their own under four eyes."""
    pending = approvals_for(user)
    if since is not None:
        pending = pending.filter(updated_at__gt=since)
    return [c for c in pending[:200] if can_approve(user, c)][:LIST_LIMIT]


def riskiest_open_carts(user, limit: int = TOP_CARTS) -> list[dict] | None:
    """The open carts of the published abandonment run with the highest expected loss; None while no run is
    published (the home page does not score carts itself: that is the Abandonment tab's work)."""
    if latest_run(Kind.ABANDONMENT) is None:
        return None
    return [r for r in at_risk(user).rows if r["expected_loss"] is not None][:limit]


def _finished_since(since: dt.datetime) -> Q:
    """Jobs that ended after `since` (one started before it and ended after it is news too); a job without an end
    time counts from its creation."""
    return Q(finished_at__gt=since) | Q(finished_at__isnull=True, created_at__gt=since)


def failed_jobs(user, since: dt.datetime) -> list[JobRun]:
    jobs = JobRun.objects.restrict(user).filter(state=JobRun.State.FAILED).filter(_finished_since(since))
    return list(jobs.select_related("region", "started_by").order_by("-created_at")[:LIST_LIMIT])


def quarantined_imports(user, since: dt.datetime) -> list[JobRun]:
    """Finished imports of the user's regions (or their own) that set rows aside, newest first."""
    jobs = JobRun.objects.restrict(user).filter(kind__startswith="import", counts__quarantined__gt=0)
    jobs = jobs.filter(_finished_since(since)).select_related("region", "started_by").order_by("-created_at")
    return list(jobs[:LIST_LIMIT])


def drift_alerts(since: dt.date | dt.datetime | None = None) -> list[DriftReport]:
    """The latest drift report of each kind when it flags a feature or the score (global: so are the models)."""
    alerts = []
    for kind in Kind.values:
        report = DriftReport.objects.filter(kind=kind).order_by("-month").first()
        if report is not None and report.flagged and (since is None or report.created_at > since):
            alerts.append(report)
    return alerts


def new_denials(user, since: dt.datetime | None):
    events = scoped_audit_events(user).filter(action="access.denied")
    if since is not None:
        events = events.filter(occurred_at__gt=since)
    return events.order_by("-id")


def _change(now, before) -> float | None:
    return None if now is None or before is None else round(now - before, 4)


def rollup_changes(user, now: dt.datetime | None = None) -> list[dict]:
    """Per region: revenue at risk, recovered revenue and campaign lift now and as they stood a week ago (the
    abandonment run current then, the outcomes known then), and the change. None = not measured at that moment."""
    now = now or timezone.now()
    week_ago = now - RECENT
    current = regional_rollup(user)["regions"]
    ids = [r["id"] for r in current]
    risk_then = revenue_at_risk_by_region(user, ids, as_of=week_ago)
    results_then = campaign_results_by_region(user, ids, as_of=week_ago)
    rows = []
    for region in current:
        then = results_then.get(region["id"]) or {}
        figures = {
            "revenue_at_risk": (region["revenue_at_risk"], risk_then.get(region["id"])),
            "recovered_revenue": (region["recovered_revenue"], then.get("recovered_revenue")),
            "campaign_lift": (region["campaign_lift"], then.get("lift")),
        }
        row = {"code": region["code"], "name": region["name"], "currency": region["currency"]}
        for name, (value, before) in figures.items():
            row[name] = value
            row[f"{name}_week_ago"] = before
            row[f"{name}_change"] = _change(value, before)
        rows.append(row)
    return rows


def home_for(user, *, seen_at: dt.datetime | None, now: dt.datetime | None = None) -> dict:
    """Every section the user's roles get; `seen_at` is when they last opened their home page."""
    now = now or timezone.now()
    recent = now - RECENT
    sections = roles_of(user)
    home: dict = {"sections": sections, "seen_at": seen_at}
    if "manager" in sections:
        home["approvals"] = campaigns_to_approve(user)
        home["carts"] = riskiest_open_carts(user)
        home["failed_jobs"] = failed_jobs(user, recent)
        home["quarantined"] = quarantined_imports(user, recent)
    if "manager" in sections or "analyst" in sections:
        home["drift"] = drift_alerts()
    if "executive" in sections:
        home["rollup"] = rollup_changes(user, now)
    if "compliance" in sections and may_read_audit(user):
        denials = new_denials(user, seen_at or recent)
        home["denials"] = list(denials[:LIST_LIMIT])
        home["denial_count"] = denials.count()
        home["denials_since"] = seen_at or recent
        from .audit import chain_status

        home["chain"] = chain_status(user)
    if "analyst" in sections:
        home["models"] = kinds_overview(user)
        home["failed_jobs"] = home.get("failed_jobs") or failed_jobs(user, recent)
        running = JobRun.objects.restrict(user).filter(state__in=[JobRun.State.QUEUED, JobRun.State.RUNNING])
        home["running_jobs"] = list(running.order_by("-created_at")[:LIST_LIMIT])
    return home
