from __future__ import annotations

from django.db import models

from .jobs import JobRun
from .regions import Region, RegionScopedQuerySet


class QuarantinedRow(models.Model):
    """A row an import refused, with where and why, so nothing is lost."""

    job = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="quarantined_rows")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    line = models.PositiveIntegerField(help_text="1-based line number in the file, header is line 1")
    column = models.CharField(max_length=120, blank=True, default="")
    code = models.CharField(max_length=48)
    message = models.CharField(max_length=500)
    raw = models.TextField(blank=True, default="")

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["job", "line"]
        indexes = [models.Index(fields=["job", "code"])]
