"""Celery tasks of the portal: refresh a stale rollup, warm every rollup after new data."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portal.refresh_rollup")
def refresh_rollup(name: str, region_ids: list[int] | None) -> float:
    from cartportal.portal.selectors import cache

    _load_rollups()
    return cache.compute(name, region_ids)["seconds"]


@shared_task(name="portal.warm_rollups")
def warm_rollups() -> int:
    from cartportal.models import Region
    from cartportal.portal.selectors import cache

    _load_rollups()
    return cache.warm_all(list(Region.objects.values_list("pk", flat=True)))


def _load_rollups() -> None:
    """Import the modules whose selectors register rollups (a worker may not have imported them yet)."""
    from cartportal.portal.selectors import executive, insights  # noqa: F401
    from predictions import selectors as prediction_selectors  # noqa: F401
    from predictions.abandonment import selectors  # noqa: F401
