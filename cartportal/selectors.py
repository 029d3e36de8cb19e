"""Platform reads. Every selector takes the user and starts from their region scope."""

from __future__ import annotations

from django.db.models import QuerySet

from cartportal.access import COMPLIANCE, has_role
from cartportal.models import AuditEvent, JobRun


def job_list(user, *, mine: bool = False) -> QuerySet[JobRun]:
    """Jobs the user may follow; `mine` keeps only the ones they started."""
    jobs = JobRun.objects.restrict(user).select_related("region", "started_by")
    if mine:
        jobs = jobs.filter(started_by_id=user.pk) if user.pk is not None else jobs.none()
    return jobs


def audit_events(user, *, action: str = "", region_code: str = "", actor: str = "") -> QuerySet[AuditEvent]:
    """Only Compliance (and superusers) read the audit trail; others get an empty set."""
    if not (user.is_superuser or has_role(user, COMPLIANCE)):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.order_by("-id")
    if action:
        events = events.filter(action__startswith=action)
    if region_code:
        events = events.filter(region_code=region_code)
    if actor:
        events = events.filter(actor__startswith=actor)
    return events
