from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

from .regions import Region


class PartnerToken(models.Model):
    """An API token bound to regions and scopes; only its hash is stored."""

    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"

    name = models.CharField(max_length=120)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_tokens")
    regions = models.ManyToManyField(Region, related_name="partner_tokens")
    scopes = models.JSONField(default=list, help_text='Subset of ["read", "write"]')
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return "cp_" + secrets.token_urlsafe(32)
