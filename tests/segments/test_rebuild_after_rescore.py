"""A published rescore has the segments of the regions it scored rebuilt by a real Celery worker, once, without
the publish waiting for it; regions the run did not score are left alone."""

from __future__ import annotations

import time

import pytest

from cartportal.models import Customer, JobRun
from predictions import services
from predictions.models import ScoringRun
from predictions.tasks import publish_run
from segments.models import CustomerProfile, Segment
from segments.services import audience_create
from segments.tasks import REBUILD_KIND
from tests.factories import RegionFactory
from tests.predictions.helpers import ACTOR, active_model, many_customers


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_published_rescore_rebuilds_the_segments_of_its_regions(celery_worker_process):
    north, south = RegionFactory(code="NORTH"), RegionFactory(code="SOUTH")
    many_customers([north, south], 400, with_orders=200)
    audience = audience_create(
        actor=ACTOR,
        region=north,
        name="Repeat",
        universe="purchasers",
        rules=[{"name": "Repeat", "feature": "frequency", "op": ">=", "value": 2}],
    )
    evaluated_before = audience.evaluated_at
    assert audience.result["universe_size"] == 0  # no segments built yet
    active_model()

    run = services.rescore_start(actor=ACTOR, kind="abandonment", region_ids=[north.pk], chunk_size=100)
    _wait(lambda: ScoringRun.objects.get(pk=run.pk).state == "published", 120, "the run to be published")
    jobs = JobRun.objects.filter(kind=REBUILD_KIND, parameters__scoring_run=run.pk)
    _wait(lambda: jobs.filter(state__in=["succeeded", "failed"]).exists(), 120, "the segment rebuild")

    job = jobs.get()
    assert job.state == "succeeded", job.error
    assert job.region_id == north.pk and job.parameters["region_ids"] == [north.pk]
    north_customers = Customer.objects.filter(region=north).count()
    assert job.counts["customers"] == north_customers == 200 and job.counts["audiences"] == 1
    assert CustomerProfile.objects.filter(region=north).count() == north_customers
    assert not CustomerProfile.objects.filter(region=south).exists()
    buyers = CustomerProfile.objects.filter(region=north).exclude(value_group="").count()
    assert buyers == 100
    assert sum(Segment.objects.filter(region=north, kind="value_group").values_list("size", flat=True)) == buyers
    audience.refresh_from_db()
    assert audience.evaluated_at > evaluated_before and audience.result["universe_size"] == buyers

    # a re-delivered publish finds the run published and queues nothing more
    assert publish_run(run.pk) is True
    assert jobs.count() == 1
