"""Region values of a file to region ids, and the region of each row of a chunk."""

from __future__ import annotations

import re

import numpy as np

from cartportal import access, audit
from cartportal.models import Region


def region_code_for(value: str, prefix: str = "") -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", value.strip()).strip("-").upper()
    return f"{prefix}{slug}"[:32]


class RegionResolver:
    """Region values of a file -> region ids, creating regions only for actors allowed to."""

    def __init__(self, actor, prefix: str = "", currency: str = ""):
        self.actor = actor
        self.prefix = prefix
        self.currency = currency
        self.allowed = access.region_ids_for(actor, "import")
        self.may_create = self.allowed is None
        self.cache: dict[str, int | None] = {}

    def resolve(self, value: str) -> int | None:
        key = value.strip().lower()
        if key not in self.cache:
            self.cache[key] = self._lookup(value.strip())
        return self.cache[key]

    def _lookup(self, value: str) -> int | None:
        code = region_code_for(value, self.prefix)
        region = (
            Region.objects.filter(code__iexact=code).first()
            or Region.objects.filter(code__iexact=value).first()
            or Region.objects.filter(name__iexact=value).first()
        )
        if region is None and self.may_create and code:
            extra = {"currency": self.currency} if self.currency else {}
            region = Region.objects.create(code=code, name=value[:120], **extra)
            audit.record(
                actor=self.actor,
                action="region.create",
                object_type="region",
                object_id=region.pk,
                region_code=region.code,
                after={"code": region.code, "name": region.name, "currency": region.currency},
            )
        return region.pk if region else None

    def permitted(self, region_id: int) -> bool:
        return self.allowed is None or region_id in self.allowed


def row_regions(frame, problems, resolver, fixed_region, needs_region, column_of) -> np.ndarray:
    size = len(frame)
    if not needs_region:
        return np.full(size, None, dtype=object)
    if fixed_region is not None and "region" not in frame:
        return np.full(size, fixed_region, dtype=object)
    if "region" not in frame:
        return np.full(size, None, dtype=object)  # resolved from references in SQL
    values = frame["region"].fillna("").astype(str).str.strip()
    ids = np.array([resolver.resolve(v) if v else fixed_region for v in values], dtype=object)
    label = column_of.get("region", "region")
    unknown = (values.ne("").to_numpy()) & np.array([i is None for i in ids])
    problems.add(unknown, "region", "unknown_region", f"{label} names a region that does not exist.")
    forbidden = np.array([i is not None and not resolver.permitted(i) for i in ids])
    problems.add(forbidden, "region", "region_forbidden", "You may not import into this region.")
    return ids
