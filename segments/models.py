"""Segments: one profile row per customer (RFM, value group, dormancy, promotion base, persona), a summary
row per segment and region, monthly snapshots for transitions, persona runs and audience definitions.

Every row carries its region, so every read is one indexed region filter through `restrict(user)`.
"""

from __future__ import annotations

from django.db import models

from cartportal.models import Customer, Region
from cartportal.models.regions import RegionScopedQuerySet


class ValueGroup(models.TextChoices):
    LOYAL = "loyal", "Loyal"
    REGULAR = "regular", "Regular"
    BIG_FISH = "big_fish", "Big Fish"
    ONE_TIME = "one_time", "One-time"


class PromotionBase(models.TextChoices):
    TRANSACTION_ONLY = "transaction_only", "Transaction only"
    BROWSING_ONLY = "browsing_only", "Browsing only"
    BOTH = "both", "Transactions and browsing"
    NONE = "none", "No activity"


# Profiles and snapshots are rewritten a region at a time, a million rows per rebuild, by statements that read
# the customers they point to in the same transaction. Database-level foreign keys would add a deferred per-row
# check at commit for each of those rows (about a third of a rebuild), so, as for prediction scores, the keys are
# kept by construction and the ORM still cascades a deleted customer. Every index costs a write per row, so a
# region column has no index of its own where a composite index starts with it.


class CustomerProfile(models.Model):
    """The segment memberships of one customer as of the last rebuild of its region."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )  # the (region, ...) indexes below serve region filters
    built_at = models.DateTimeField()
    reference_at = models.DateTimeField(help_text="The date recency and dormancy are measured from")
    last_purchase_at = models.DateTimeField(null=True, blank=True)
    recency_days = models.IntegerField(null=True, blank=True)
    frequency = models.IntegerField(default=0, help_text="Orders that were not cancelled or returned")
    monetary = models.DecimalField(max_digits=16, decimal_places=2, default=0, help_text="Net of cancellations")
    r_score = models.SmallIntegerField(null=True, blank=True)
    f_score = models.SmallIntegerField(null=True, blank=True)
    m_score = models.SmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(max_length=32, blank=True, default="")
    value_group = models.CharField(max_length=16, choices=ValueGroup.choices, blank=True, default="")
    dormant = models.BooleanField(default=False)
    promotion_base = models.CharField(max_length=20, choices=PromotionBase.choices, default=PromotionBase.NONE)
    persona = models.CharField(max_length=64, blank=True, default="")

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["region", "value_group", "dormant"]),
            models.Index(fields=["region", "rfm_segment"]),
        ]


class Segment(models.Model):
    """Size and value of one segment in one region, written by each rebuild."""

    class Kind(models.TextChoices):
        RFM = "rfm", "RFM segment"
        VALUE_GROUP = "value_group", "Value group"
        PROMOTION_BASE = "promotion_base", "Promotion base"
        PERSONA = "persona", "Persona"

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=120)
    size = models.IntegerField(default=0)
    dormant_size = models.IntegerField(default=0)
    monetary_total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    built_at = models.DateTimeField()

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "code", "region_id"]
        constraints = [models.UniqueConstraint(fields=["region", "kind", "code"], name="segment_unique_code")]


class SegmentSnapshot(models.Model):
    """A customer's segment of an audience strategy at the end of a month (for month-over-month transitions; the
    value group, RFM segment and persona are kept in ProfileSnapshot)."""

    month = models.DateField(help_text="First day of the month the state was measured at the end of")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )  # the (region, month) index serves region filters
    kind = models.CharField(max_length=40, default="value_group", help_text="audience:<audience id>")
    state = models.CharField(max_length=80)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        # (customer, month, kind): also serves a customer's own rows, so the customer key needs no index of its own
        constraints = [
            models.UniqueConstraint(fields=["customer", "month", "kind"], name="snapshot_unique_customer_month_kind")
        ]
        indexes = [models.Index(fields=["region", "month"])]


class ProfileSnapshot(models.Model):
    """A customer's value group (with dormancy), RFM segment and persona at the end of a month, in one row (for
    month-over-month transitions); an empty column means no state of that kind (e.g. "No purchase").

    One row per customer and month rather than one per kind: the first rebuild of a month inserts a row for every
    customer of the region (a million rows at the bench shop), and each row costs its index entries."""

    month = models.DateField(help_text="First day of the month the states were measured at the end of")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )  # the (region, month) index serves region filters
    value_group = models.CharField(max_length=80, blank=True, default="", help_text="e.g. 'Loyal (dormant)'")
    rfm = models.CharField(max_length=32, blank=True, default="")
    persona = models.CharField(max_length=64, blank=True, default="")

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        # Month first: a new month's rows go to the end of the index, and a rebuild reads one month as one range.
        constraints = [models.UniqueConstraint(fields=["month", "customer"], name="profile_snapshot_month_customer")]
        indexes = [models.Index(fields=["region", "month"])]


class PersonaRun(models.Model):
    """One clustering of a region's customers: the chosen k, the selection curves, stability and profiles."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    built_at = models.DateTimeField()
    customers = models.IntegerField(default=0)
    features = models.JSONField(default=list)
    k = models.IntegerField(null=True, blank=True)
    selection = models.JSONField(default=list, help_text="[{k, silhouette, bic}] for every k tried")
    stability_ari = models.FloatField(null=True, blank=True)
    stability_runs = models.JSONField(default=list)
    gmm_agreement_ari = models.FloatField(null=True, blank=True)
    unstable = models.BooleanField(default=False)
    profiles = models.JSONField(default=list, help_text="[{name, size, means, z}] per persona")
    note = models.CharField(max_length=300, blank=True, default="")

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-built_at"]


class AudienceDefinition(models.Model):
    """An analyst's MECE audience strategy: a universe, ordered rules, size bounds and score weights."""

    class Policy(models.TextChoices):
        MERGE = "merge", "Merge into the catch-all"
        FLAG = "flag", "Flag as invalid"

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    universe = models.CharField(max_length=40)
    rules = models.JSONField(default=list)
    catch_all_name = models.CharField(max_length=80, default="Everyone else")
    min_size = models.IntegerField(default=0)
    max_size = models.IntegerField(null=True, blank=True)
    policy = models.CharField(max_length=8, choices=Policy.choices, default=Policy.FLAG)
    weights = models.JSONField(default=dict)
    result = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class AudienceMember(models.Model):
    audience = models.ForeignKey(AudienceDefinition, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    segment = models.CharField(max_length=80)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audience", "customer"], name="audience_member_once")]
