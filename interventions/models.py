"""Campaigns, their arms and assignments, measured outcomes, and the global kill switch."""

from __future__ import annotations

from django.db import models

from cartportal.models import Customer, Region
from cartportal.models.regions import RegionScopedQuerySet


class KillSwitch(models.Model):
    """One row per region, and one without a region for every region at once. While a switch covering a campaign's
    region is engaged, the campaign cannot start, no customer is assigned and nothing is delivered."""

    region = models.OneToOneField(Region, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True, default="")
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.CharField(max_length=120, blank=True, default="")

    # Its readers are the assignment and delivery checks (every switch that covers a region, the global one
    # included); the pages and the API list the switches of the regions the reader sees.
    objects = RegionScopedQuerySet.as_manager()


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
    audience = models.CharField(max_length=200, blank=True, default="", help_text="The saved audience, in words")
    audience_kind = models.CharField(
        max_length=20, blank=True, default="", help_text="strategy, value_group, rfm, at_risk or list"
    )
    audience_ref = models.JSONField(default=dict, blank=True, help_text="Which audience of that kind")
    arms = models.JSONField(default=list, blank=True, help_text="Intervention codes of the treated arms")
    allocation = models.CharField(max_length=16, default="thompson", help_text="thompson or uniform")
    refusals = models.JSONField(default=dict, blank=True, help_text="Customers left out at assignment, by reason")
    assign_job = models.ForeignKey(
        "cartportal.JobRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    webhook_url = models.URLField(blank=True, default="", help_text="A partner's HTTPS endpoint for assignments")
    webhook_secret = models.CharField(max_length=128, blank=True, default="")
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
    features = models.JSONField(
        default=dict, blank=True, help_text="The customer's features when assigned (what an uplift model learns from)"
    )
    propensity = models.FloatField(null=True, blank=True, help_text="Probability with which this arm was chosen")
    content = models.JSONField(default=dict, blank=True, help_text="The rendered message and its fill values")
    outcome_source = models.CharField(max_length=10, blank=True, default="", help_text="orders or partner")

    objects = AssignmentQuerySet.as_manager()

    @property
    def idempotency_key(self) -> str:
        return f"campaign-{self.campaign_id}-customer-{self.customer_id}"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="one_assignment_per_campaign")]
        indexes = [models.Index(fields=["customer", "assigned_at"])]


class PromotionBase(models.TextChoices):
    """What the customer's promotions are built from (the same split as the segments' promotion base)."""

    TRANSACTION_ONLY = "transaction_only", "Transactions only"
    BROWSING_ONLY = "browsing_only", "Browsing only"
    BOTH = "both", "Transactions and browsing"


class PromotionOffer(models.Model):
    """One of a customer's three weekly promotions: a category offer at a discount, ranked by predicted order
    value. A week's rows are replaced as a whole when the week is generated again."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="promotion_offers")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    week_start = models.DateField(db_index=True, help_text="Monday of the week the offer is for")
    rank = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=120)
    discount_rate = models.FloatField(help_text="Share of the price given away, e.g. 0.1")
    relation = models.CharField(max_length=16, help_text="bought, browsed or new: the customer's tie to the category")
    predicted_order_value = models.DecimalField(max_digits=14, decimal_places=2)
    base = models.CharField(max_length=20, choices=PromotionBase.choices)
    job = models.ForeignKey("cartportal.JobRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-week_start", "region_id", "customer_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "week_start", "rank"], name="one_offer_per_rank_and_week"),
            models.UniqueConstraint(fields=["customer", "week_start", "category"], name="one_offer_per_category"),
            models.CheckConstraint(condition=models.Q(rank__gte=1, rank__lte=3), name="offer_rank_1_to_3"),
        ]
        indexes = [models.Index(fields=["region", "week_start"])]


class CustomerList(models.Model):
    """An uploaded list of customers of one region, usable as a campaign audience."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    created_by = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class CustomerListMember(models.Model):
    customer_list = models.ForeignKey(CustomerList, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_list", "customer"], name="customer_list_member_once")]


class DeliveryQuerySet(RegionScopedQuerySet):
    region_path = "assignment__campaign__region"


class WebhookDelivery(models.Model):
    """Pushing one assignment to the campaign's webhook: attempts, the last error, and dead-lettering."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead letter"

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="delivery")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()
