"""Celery tasks of the portal: refresh a stale rollup, warm every rollup after new data."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portal.refresh_rollup")
def refresh_rollup(name: str, region_ids: list[int] | None) -> float:
    from cartportal.portal.selectors import cache

    _load_rollups()
    return cache.compute(name, region_ids)["seconds"]


WARM_QUEUED = "portal-rollup:warm-queued"


def queue_warm_rollups() -> None:
    """Queue one warm-up of every rollup; imports finishing while one is queued add nothing more."""
    from django.core.cache import cache

    if cache.add(WARM_QUEUED, 1, 3600):
        warm_rollups.delay()


@shared_task(name="portal.warm_rollups")
def warm_rollups() -> int:
    from django.core.cache import cache as django_cache

    from cartportal.models import Region
    from cartportal.portal.selectors import cache

    django_cache.delete(WARM_QUEUED)  # data arriving from now on needs another warm-up
    _load_rollups()
    return cache.warm_all(list(Region.objects.values_list("pk", flat=True)))


def _load_rollups() -> None:
    """Import the modules whose selectors register rollups (a worker may not have imported them yet)."""
    from cartportal.portal.selectors import executive, insights  # noqa: F401
    from predictions import selectors as prediction_selectors  # noqa: F401
    from predictions.abandonment import selectors  # noqa: F401
