import datetime as dt
import random

import pytest

from cartportal.models import AuditEvent, JobRun
from predictions import registry, services
from predictions.models import ModelVersion
from predictions.scoring.training import TrainingError, train_value
from tests.factories import CustomerFactory, OrderFactory

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _shop(world, customers=300, days=360, seed=3, region=None, start=START):
    """Customers with a personal buying rate and lifetime: frequent, recent buyers keep buying."""
    rng = random.Random(seed)
    for i in range(customers):
        home = region or (world.region_a if i % 2 else world.region_b)
        customer = CustomerFactory(region=home, first_seen=start)
        rate, day = rng.choice([0.005, 0.02, 0.06]), rng.randint(0, 60)
        life = day + rng.expovariate(1 / rng.choice([90, 365, 3000]))  # memoryless, as the models assume
        while day < min(days, life):
            OrderFactory(
                customer=customer, region=home, placed_at=start + dt.timedelta(days=day), total=rng.randint(0, 90)
            )
            day += max(1, int(rng.expovariate(rate)))


@pytest.mark.django_db
def test_value_model_forecasts_12_months_and_is_measured_on_a_later_holdout(world):
    _shop(world)
    trained = train_value()
    assert trained.holdout["forecast_days"] == 365 and trained.scorer.horizon_days == 365
    assert 150 <= trained.holdout["horizon_days"] <= 180  # half of the history, not the training data
    metrics = trained.metrics
    assert trained.algorithm in {"bgnbd_gamma_gamma", "pareto_nbd_gamma_gamma"}
    assert set(metrics["candidates"]) == {"bgnbd", "pareto_nbd"}
    assert metrics["poisson_deviance"] == min(c["poisson_deviance"] for c in metrics["candidates"].values())
    assert metrics["baseline"]["name"] == "same as last period"
    assert metrics["poisson_deviance"] < metrics["baseline"]["poisson_deviance"]
    assert metrics["top_decile_lift"] > 1.5 and abs(metrics["purchase_count_error"]) < 0.35
    assert "12 months" in trained.card["intended_use"]


@pytest.mark.django_db
def test_each_region_is_measured_from_the_end_of_its_own_data(world):
    """A region whose data ends years earlier must not be judged on months with nothing recorded."""
    _shop(world, customers=200, region=world.region_a)
    _shop(world, customers=60, region=world.region_b, start=START + dt.timedelta(days=4 * 365), days=200, seed=5)
    trained = train_value()
    assert trained.metrics["actual_purchases"] > 0
    assert trained.metrics["poisson_deviance"] < trained.metrics["baseline"]["poisson_deviance"]


@pytest.mark.django_db
def test_retrain_service_registers_promotes_and_audits(world):
    _shop(world, customers=200)
    job = services.retrain_start(actor=world.analyst_a, kind="value")
    version = services.retrain_run(actor=world.analyst_a, job_id=job.pk, kind="value", rescore=False)
    version.refresh_from_db()
    assert version.status == "active" and registry.active_version("value").pk == version.pk
    job.refresh_from_db()
    assert job.state == "succeeded" and job.counts["promoted"] is True
    assert AuditEvent.objects.filter(action="model.registered", object_id=str(version.pk)).exists()
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_training_with_too_little_data_says_what_is_missing(world):
    with pytest.raises(TrainingError, match="No orders yet"):
        train_value()
    _shop(world, customers=20, days=300)
    with pytest.raises(TrainingError, match="needs 50 customers with orders; has 20"):
        train_value()
    job = services.retrain_start(actor=world.analyst_a, kind="value")
    assert services.retrain_run(actor=world.analyst_a, job_id=job.pk, kind="value") is None
    job = JobRun.objects.get(pk=job.pk)
    assert job.state == "failed" and "needs 50 customers with orders; has 20" in job.error
    with pytest.raises(services.PredictionError, match="not trained by the portal"):
        services.retrain_start(actor=world.analyst_a, kind="promotion")
