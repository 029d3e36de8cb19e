"""The chunked pipeline run in-process: same numbers as the scorer, idempotent chunks, invisible until published,
region-scoped reads."""

import numpy as np
import pytest
from django.utils import timezone

from predictions import selectors, services
from predictions.models import Score, ScoringChunk
from predictions.scoring import pipeline
from predictions.scoring.features import customer_features
from tests.predictions.helpers import ACTOR, active_model, many_customers


def _run_all(run):
    for chunk_id in ScoringChunk.objects.filter(run=run).values_list("pk", flat=True):
        pipeline.score_chunk(chunk_id)
    return pipeline.publish_if_complete(run.pk)


@pytest.mark.django_db
def test_chunks_write_the_scorers_numbers_once_and_the_run_appears_only_when_complete(world):
    many_customers([world.region_a, world.region_b], 600, with_orders=200)
    version = active_model()
    run = services.rescore_start(actor=ACTOR, kind="abandonment", chunk_size=100, as_of=timezone.now())
    assert run.chunk_count == 6 and run.expected_rows == 600

    first = ScoringChunk.objects.filter(run=run).first()
    assert pipeline.score_chunk(first.pk) == "scored"
    assert pipeline.score_chunk(first.pk) == "already-done"
    assert not pipeline.publish_if_complete(run.pk)
    assert selectors.latest_run("abandonment") is None
    assert not selectors.scores(world.executive, "abandonment").exists()

    assert _run_all(run)
    run.refresh_from_db()
    assert run.state == "published" and Score.objects.filter(run=run).count() == 600

    features = customer_features(region_id=world.region_a.pk, id_from=0, id_to=2**62, as_of=run.as_of)
    expected = pipeline.scorer_for(version).score(features)["value"]
    stored = dict(Score.objects.filter(run=run, region=world.region_a).values_list("customer_id", "value"))
    assert np.allclose([stored[c] for c in features.index], expected.to_numpy())
    assert len(expected) == 300


@pytest.mark.django_db
def test_a_redelivered_chunk_replaces_leftover_rows_instead_of_duplicating(world):
    many_customers([world.region_a], 50)
    active_model()
    run = services.rescore_start(actor=ACTOR, kind="abandonment", chunk_size=50)
    chunk = ScoringChunk.objects.get(run=run)
    Score.objects.create(run=run, customer_id=chunk.id_from, region=world.region_a, value=0.5)
    assert _run_all(run)
    assert Score.objects.filter(run=run).count() == 50
    assert Score.objects.filter(run=run).values("customer_id").distinct().count() == 50


@pytest.mark.django_db
def test_readers_see_only_their_regions_of_the_latest_published_run(world):
    many_customers([world.region_a, world.region_b], 40)
    active_model()
    _run_all(services.rescore_start(actor=ACTOR, kind="abandonment", chunk_size=1000))
    latest = services.rescore_start(actor=ACTOR, kind="abandonment", chunk_size=1000)
    _run_all(latest)
    mine = selectors.scores(world.manager_a, "abandonment")
    assert mine.count() == 20 and set(mine.values_list("region_id", flat=True)) == {world.region_a.pk}
    assert set(mine.values_list("run_id", flat=True)) == {latest.pk}
    assert selectors.scores(world.executive, "abandonment").count() == 40
    assert selectors.scores(world.model_perm_only, "abandonment").count() == 0


@pytest.mark.django_db
def test_rescore_without_an_active_model_is_a_clear_error(world):
    with pytest.raises(services.PredictionError, match="No active value model"):
        services.rescore_start(actor=ACTOR, kind="value")


@pytest.mark.django_db
def test_features_never_read_orders_after_the_cut_off(world):
    from tests.factories import CustomerFactory, OrderFactory

    customer = CustomerFactory(region=world.region_a)
    now = timezone.now()
    OrderFactory(customer=customer, region=world.region_a, placed_at=now - timezone.timedelta(days=10), total=30)
    OrderFactory(customer=customer, region=world.region_a, placed_at=now + timezone.timedelta(days=1), total=70)
    row = customer_features(region_id=world.region_a.pk, id_from=customer.pk, id_to=customer.pk, as_of=now).iloc[0]
    assert row["orders"] == 1 and row["spend"] == 30 and row["orders_90d"] == 1
    assert 9.9 < row["days_since_last_order"] < 10.1
