from __future__ import annotations

from django.conf import settings
from django.db import models

from .regions import Region, RegionScopedQuerySet


class JobRunQuerySet(RegionScopedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Jobs of the user's regions, plus the jobs the user started: whoever may start a job may follow it
        (an import whose regions come from the file, a global retrain). Other jobs without a region are
        visible to global roles only."""
        from cartportal.access import region_ids_for

        ids = region_ids_for(user, action)
        if ids is None:
            return self
        starter_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
        if starter_id is None or not isinstance(starter_id, int):
            return self.filter(region__in=ids)
        return self.filter(models.Q(region__in=ids) | models.Q(started_by_id=starter_id))


class JobRun(models.Model):
    """Every long task (import, retrain, rescore, segment rebuild, campaign assignment) is a JobRun."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64, db_index=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    parameters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0, help_text="0 to 100")
    message = models.CharField(max_length=300, blank=True, default="")
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running job writes a heartbeat with its progress; a watchdog re-queues or fails jobs whose heartbeat stops.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # What a job has committed so far (an import: the last line of its last committed chunk and the counts up to
    # it), written in the same transaction as that work, so that a resumed job continues from there.
    checkpoint = models.JSONField(default=dict, blank=True)
    # The holder of a running job: a task claims the job with a fresh lease, and each commit checks it still holds
    # it, so that a redelivered copy of a task never runs the same job twice at once.
    lease = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="times a watchdog re-queued the job")

    objects = JobRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"
