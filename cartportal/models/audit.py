from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every write and every denied access.

    The database enforces append-only (a trigger plus grants, see migration 0002); `verify_audit`
    recomputes the chain. Rows hold pseudonymous ids only (`customer:42`, `user:7`), never raw PII.
    """

    id = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor = models.CharField(max_length=128, help_text="user:<id>, task:<name>, command:<name> or anonymous")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=128, blank=True, default="")
    region_code = models.CharField(max_length=32, blank=True, default="", db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["occurred_at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} {self.object_type}:{self.object_id}"
