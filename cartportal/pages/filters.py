"""The region filter every page offers: `?region=CODE`, limited to the regions the user may see."""

from __future__ import annotations

from dataclasses import dataclass

from cartportal.access import visible_regions
from cartportal.models import Region


@dataclass
class RegionFilter:
    regions: list[Region]
    selected: Region | None

    @property
    def region_ids(self) -> list[int]:
        """Ids to filter by: the chosen region, or every visible region."""
        return [self.selected.pk] if self.selected else [r.pk for r in self.regions]

    @property
    def code(self) -> str:
        return self.selected.code if self.selected else ""


def region_filter(request) -> RegionFilter:
    regions = list(visible_regions(request.user))
    code = request.GET.get("region", "")
    selected = next((r for r in regions if r.code == code), None)
    return RegionFilter(regions=regions, selected=selected)
