"""Celery tasks of the rollup cache: refresh a stale rollup, warm every rollup after new data.

The rollups are registered when their selector modules are imported, which every app does in its
AppConfig.ready(), so a worker knows them all without this module naming any domain."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portal.refresh_rollup")
def refresh_rollup(name: str, region_ids: list[int] | None) -> float:
    from cartportal.pages import rollups

    return rollups.compute(name, region_ids)["seconds"]


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
    from cartportal.pages import rollups

    django_cache.delete(WARM_QUEUED)  # data arriving from now on needs another warm-up
    return rollups.warm_all(list(Region.objects.values_list("pk", flat=True)))
