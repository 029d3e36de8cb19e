"""Campaigns, their arms and assignments, measured outcomes, and the global kill switch."""

from __future__ import annotations

from django.db import models

from cartportal.models import Customer, Region
from cartportal.models.regions import RegionScopedQuerySet


class KillSwitch(models.Model):
    """One row (pk=1). While engaged, no campaign can start and no customer can be assigned."""

    engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True, default="")
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.CharField(max_length=120, blank=True, default="")


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    intervention = models.CharField(max_length=32, help_text="Catalogue code, e.g. reminder")
    audience = models.CharField(max_length=200, blank=True, default="", help_text="Audience segment label")
    holdout_share = models.FloatField(default=0.1, help_text="Share of assigned customers kept as holdout")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT, db_index=True)
    created_by = models.CharField(max_length=120, blank=True, default="")
    decided_by = models.CharField(max_length=120, blank=True, default="")
    decision_reason = models.TextField(blank=True, default="")
    override = models.BooleanField(default=False, help_text="Approved or rejected by an executive")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class AssignmentQuerySet(RegionScopedQuerySet):
    region_path = "campaign__region"


class Assignment(models.Model):
    """A customer in a campaign: the arm they got (the control arm is the holdout)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="campaign_assignments")
    arm = models.CharField(max_length=64)
    holdout = models.BooleanField(default=False)
    assigned_at = models.DateTimeField(db_index=True)
    visited = models.BooleanField(null=True, blank=True)
    converted = models.BooleanField(null=True, blank=True)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="one_assignment_per_campaign")]
        indexes = [models.Index(fields=["customer", "assigned_at"])]
