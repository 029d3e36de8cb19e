"""Platform reads. Every selector takes the user and starts from their region scope."""

from __future__ import annotations

from django.db.models import QuerySet

from cartportal.access import COMPLIANCE, Scope, has_role
from cartportal.models import AuditEvent, JobRun, Region


def job_list(user, *, mine: bool = False) -> QuerySet[JobRun]:
    """Jobs the user may follow; `mine` keeps only the ones they started."""
    jobs = JobRun.objects.restrict(user).select_related("region", "started_by")
    if mine:
        jobs = jobs.filter(started_by_id=user.pk) if user.pk is not None else jobs.none()
    return jobs


def may_read_audit(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and (user.is_superuser or has_role(user, COMPLIANCE)))


def scoped_audit_events(user) -> QuerySet[AuditEvent]:
    """The audit rows within the reader's scope: every row for a global reader; for one narrowed to regions (a
    token bound to DE), only the rows of those regions, never the region-less ones."""
    if not may_read_audit(user):
        return AuditEvent.objects.none()
    scope = Scope.of(user, "view")
    if scope.is_global:
        return AuditEvent.objects.all()
    codes = list(Region.objects.filter(scope.q("pk")).values_list("code", flat=True))
    return AuditEvent.objects.filter(region_code__in=codes)


def audit_events(user, *, action: str = "", region_code: str = "", actor: str = "") -> QuerySet[AuditEvent]:
    """Only Compliance (and superusers) read the audit trail, through their scope; others get an empty set."""
    events = scoped_audit_events(user).order_by("-id")
    if action:
        events = events.filter(action__startswith=action)
    if region_code:
        events = events.filter(region_code=region_code)
    if actor:
        events = events.filter(actor__startswith=actor)
    return events
