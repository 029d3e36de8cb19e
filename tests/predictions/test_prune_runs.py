"""Old scores are deleted by a daily beat job: the newest runs of each kind stay, and so does an older run that is
still the newest one of some region."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from cartportal.models import AuditEvent, Customer
from predictions import tasks
from predictions.models import Score, ScoringRun
from tests.factories import CustomerFactory, RegionFactory
from tests.predictions.helpers import active_model

pytestmark = pytest.mark.django_db


def _run(version, customers: list[Customer], region_ids: list[int] | None, days_ago: int) -> ScoringRun:
    at = timezone.now() - dt.timedelta(days=days_ago)
    run = ScoringRun.objects.create(
        model_version=version, kind="abandonment", state="published", region_ids=region_ids, as_of=at, published_at=at
    )
    Score.objects.bulk_create(Score(run=run, customer=c, region_id=c.region_id, value=0.5) for c in customers)
    return run


def test_the_daily_prune_keeps_the_newest_runs_and_each_regions_latest():
    north, south = RegionFactory(code="PN"), RegionFactory(code="PS")
    customers = [CustomerFactory(region=north), CustomerFactory(region=south)]
    version = active_model()
    oldest = _run(version, customers, None, days_ago=40)
    older = _run(version, customers, None, days_ago=20)  # every region: the newest run of any other region
    south_only = _run(version, customers[1:], [south.pk], days_ago=15)  # the newest run that scored the south
    stale_north = _run(version, customers[:1], [north.pk], days_ago=12)
    newer = _run(version, customers[:1], [north.pk], days_ago=10)
    newest = _run(version, customers[:1], [north.pk], days_ago=1)

    assert tasks.prune_runs(keep=2) == 2
    kept = {newest.pk, newer.pk, south_only.pk, older.pk}
    assert set(ScoringRun.objects.values_list("pk", flat=True)) == kept
    assert set(Score.objects.values_list("run_id", flat=True)) == kept
    pruned = AuditEvent.objects.get(action="scoring.pruned").after["runs"]
    assert sorted(pruned) == sorted([oldest.pk, stale_north.pk])
    assert tasks.prune_runs(keep=2) == 0  # nothing more to delete


def test_the_prune_job_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["predictions-prune-runs"]
    assert entry["task"] == "predictions.prune_runs" == tasks.prune_runs.name
