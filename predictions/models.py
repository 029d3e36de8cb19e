"""The prediction platform's tables: model versions (the registry), scoring runs and their scores, drift.

Model versions are global objects (a model is trained on every region's data); scores are region-owned
and are read through the user's region scope. Readers only ever see scores of published runs.
"""

from __future__ import annotations

from django.db import models

from cartportal.models import Customer, JobRun, Region, RegionScopedQuerySet, Session


class Kind(models.TextChoices):
    ABANDONMENT = "abandonment"
    VALUE = "value"
    UPLIFT = "uplift"
    PROMOTION = "promotion"
    RECOMMENDATION = "recommendation"


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        ACTIVE = "active"
        RETIRED = "retired"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    algorithm = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    window_start = models.DateTimeField(null=True, blank=True, help_text="First moment of the training data")
    window_end = models.DateTimeField(null=True, blank=True, help_text="Last moment of the training data")
    cutoff = models.DateTimeField(null=True, blank=True, help_text="No feature sees anything after this moment")
    features = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Holdout metrics, never training metrics")
    holdout = models.JSONField(
        default=dict, blank=True, help_text="How the holdout was built and its fingerprint (versions compare on it)"
    )
    artifact = models.BinaryField()
    checksum = models.CharField(max_length=64, help_text="sha256 of the artifact")
    signature = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="HMAC-SHA256 of the version's id, kind and artifact with the artifact key (checked before loading)",
    )
    card = models.JSONField(default=dict, blank=True, help_text="Intended use, data, limitations")
    trained_by = models.CharField(max_length=120, blank=True, default="")
    refusal_reason = models.TextField(
        blank=True, default="", help_text="Why this candidate was not activated (its baseline or the active version)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=models.Q(status="active"), name="one_active_model_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.pk} ({self.algorithm}, {self.status})"

    @property
    def holdout_fingerprint(self) -> str:
        return str((self.holdout or {}).get("fingerprint", ""))


class ScoringRun(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        PUBLISHED = "published"
        FAILED = "failed"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="runs")
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    task_id = models.CharField(max_length=64, blank=True, default="")
    job = models.ForeignKey(JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    region_ids = models.JSONField(null=True, blank=True, help_text="Regions scored; null = all")
    as_of = models.DateTimeField(null=True, blank=True, help_text="Feature cut-off of this run")
    chunk_count = models.PositiveIntegerField(default=0)
    expected_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "state", "-published_at"])]

    def __str__(self) -> str:
        return f"{self.kind} run #{self.pk} ({self.state})"


class ScoringChunk(models.Model):
    """One slice of a run (one region, one customer-id range). Done exactly once, however often delivered."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    id_from = models.BigIntegerField(help_text="First customer id (inclusive)")
    id_to = models.BigIntegerField(help_text="Last customer id (inclusive)")
    done = models.BooleanField(default=False)
    rows = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="one_chunk_number_per_run")]


class Score(models.Model):
    # Rows arrive by the million through COPY, so the table is lean: few indexes ((run, customer) serves readers
    # and a chunk's own delete; customer serves erasure; session rows have partial ones) and no database-level
    # foreign keys, whose per-row checks at commit would cost more than the scoring itself. The ids come from
    # the same transaction's read of the customers; deletes still cascade through the ORM (erasure, run pruning).
    run = models.ForeignKey(
        ScoringRun, on_delete=models.CASCADE, related_name="scores", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    value = models.FloatField()
    extra = models.JSONField(null=True, blank=True, help_text="e.g. p_active, expected_purchases, expected_spend")
    contributions = models.JSONField(null=True, blank=True, help_text="Friction drivers and their weight")

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            # not partial: its leading run_id also serves every "scores of this run" read (NULLs are distinct)
            models.UniqueConstraint(fields=["run", "customer"], name="one_score_per_customer_per_run"),
            models.UniqueConstraint(
                fields=["run", "session"],
                condition=models.Q(session__isnull=False),
                name="one_score_per_session_per_run",
            ),
        ]
        indexes = [
            models.Index(fields=["session"], condition=models.Q(session__isnull=False), name="score_session_idx"),
        ]


class DriftReport(models.Model):
    """Population stability of each feature and of the score, one month against the month before."""

    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_reports"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    month = models.DateField(help_text="First day of the month examined")
    reference_month = models.DateField(help_text="First day of the month it is compared with")
    feature_psi = models.JSONField(default=dict, blank=True, help_text="{feature: PSI}")
    score_psi = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(default=0.2)
    flagged = models.JSONField(default=list, blank=True, help_text="Features (and 'score') with PSI above threshold")
    rows_month = models.PositiveIntegerField(default=0)
    rows_reference = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-month"]
        constraints = [models.UniqueConstraint(fields=["kind", "month"], name="one_drift_report_per_kind_month")]

    def __str__(self) -> str:
        return f"{self.kind} drift {self.month:%Y-%m}"

    @property
    def is_flagged(self) -> bool:
        return bool(self.flagged)

    @property
    def worst_feature(self) -> str:
        if not self.feature_psi:
            return "—"
        name = max(self.feature_psi, key=lambda k: self.feature_psi[k] or 0)
        return f"{name} ({self.feature_psi[name]:.3f})"
