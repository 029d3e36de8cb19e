from __future__ import annotations

from django.db import models


class Region(models.Model):
    """The object that carries permissions: managers are granted actions on regions (django-guardian)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    currency = models.CharField(max_length=3, default="GBP")
    timezone = models.CharField(max_length=64, default="UTC")

    class Meta:
        ordering = ["code"]
        permissions = [
            ("view_region_data", "See the data of this region"),
            ("change_region_data", "Change the data of this region"),
            ("import_region_data", "Import data into this region"),
            ("approve_region_campaigns", "Approve or reject campaigns in this region"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class RegionScopedQuerySet(models.QuerySet):
    """Every region-owned model uses this; `restrict(user, action)` is the one scoping path.

    `region_path` names the lookup from the model to its Region (`region` by default).
    """

    region_path = "region"

    def restrict(self, user, action: str = "view") -> RegionScopedQuerySet:
        from cartportal.access import Scope

        return Scope.of(user, action).filter(self, self.region_path)

    def in_scope(self, scope) -> RegionScopedQuerySet:
        """Filter by a `cartportal.access.Scope`."""
        return scope.filter(self, self.region_path)

    def in_regions(self, region_ids) -> RegionScopedQuerySet:
        """Filter by region ids that are already scoped (a task carries the scope it was started for as ids)."""
        from cartportal.access import Scope

        return Scope.from_ids(region_ids).filter(self, self.region_path)
