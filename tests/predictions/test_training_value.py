import datetime as dt
import random

import pytest

from cartportal.models import AuditEvent
from predictions import registry, services
from predictions.models import ModelVersion
from predictions.scoring.training import TrainingError, train_value
from tests.factories import CustomerFactory, OrderFactory


def _shop(world, customers=300, days=360, seed=3):
    """Customers with a personal buying rate: frequent buyers keep buying, so the future is learnable."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for i in range(customers):
        customer = CustomerFactory(region=world.region_a if i % 2 else world.region_b, first_seen=start)
        rate = rng.choice([0.002, 0.01, 0.04])
        day = rng.randint(0, 60)
        while day < days:
            OrderFactory(customer=customer, placed_at=start + dt.timedelta(days=day), total=rng.randint(10, 90))
            day += max(1, int(rng.expovariate(rate)))


@pytest.mark.django_db
def test_value_model_is_measured_on_a_later_holdout_window_and_registered(world):
    _shop(world)
    trained = train_value(horizon_days=90)
    assert trained.holdout["kind"] == "time-based" and trained.holdout["horizon_days"] == 90
    assert dt.datetime.fromisoformat(trained.holdout["cutoff"]) >= trained.window_end
    metrics = trained.metrics
    assert metrics["customers"] == 300
    # the best possible lift here is about 2.3 (a third of the customers buy at the top rate)
    assert metrics["top_decile_lift"] > 1.5
    assert metrics["roc_auc"] > 0.7
    assert abs(metrics["purchase_count_error"]) < 0.5


@pytest.mark.django_db
def test_retrain_service_registers_promotes_and_audits(world):
    _shop(world, customers=200)
    job = services.retrain_start(actor=world.analyst_a, kind="value")
    version = services.retrain_run(actor=world.analyst_a, job_id=job.pk, kind="value", rescore=False)
    assert version.status == "candidate"
    version.refresh_from_db()
    assert version.status == "active" and registry.active_version("value").pk == version.pk
    job.refresh_from_db()
    assert job.state == "succeeded" and job.counts["promoted"] is True
    assert AuditEvent.objects.filter(action="model.registered", object_id=str(version.pk)).exists()
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_training_without_orders_says_what_is_missing(world):
    with pytest.raises(TrainingError, match="No orders yet"):
        train_value()
    with pytest.raises(services.PredictionError, match="not trained by the portal"):
        services.retrain_start(actor=world.analyst_a, kind="promotion")
