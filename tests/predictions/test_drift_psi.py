import datetime as dt

import numpy as np
import pytest

from predictions.drift import drift_compute, psi
from predictions.models import DriftReport
from tests.factories import CustomerFactory, OrderFactory
from tests.predictions.helpers import ACTOR, active_model


def test_psi_is_zero_for_the_same_population_and_large_for_a_shifted_one():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=20_000)
    assert psi(reference, rng.normal(size=20_000)) < 0.01
    assert 0.05 < psi(reference, rng.normal(0.3, 1, size=20_000)) < 0.15  # about d**2 = 0.09 for normals
    assert psi(reference, rng.normal(1.0, 1, size=20_000)) > 0.2
    assert psi(reference, np.array([])) is None


def test_psi_handles_constant_columns_and_empty_bins():
    assert psi(np.zeros(100), np.zeros(100)) == pytest.approx(0.0)
    assert psi(np.zeros(100), np.ones(100)) > 0.2


@pytest.mark.django_db
def test_monthly_drift_flags_the_features_that_moved(world):
    active_model(kind="value")
    day = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    for i in range(120):
        customer = CustomerFactory(region=world.region_a, first_seen=day - dt.timedelta(days=400))
        OrderFactory(customer=customer, placed_at=day - dt.timedelta(days=20 + i % 5), total=20)
        if i % 2:  # half the customers buy a lot in March: spend and recency shift
            OrderFactory(customer=customer, placed_at=day + dt.timedelta(days=10), total=500)
    report = drift_compute(actor=ACTOR, kind="value", month=dt.date(2025, 3, 15))
    assert report.month == dt.date(2025, 3, 1) and report.reference_month == dt.date(2025, 2, 1)
    assert report.rows_month == report.rows_reference == 120
    assert report.feature_psi["spend"] > 0.2 and "spend" in report.flagged
    assert report.feature_psi["late_deliveries"] == pytest.approx(0.0)
    assert report.score_psi is not None
    again = drift_compute(actor=ACTOR, kind="value", month=dt.date(2025, 3, 1))
    assert again.pk == report.pk and DriftReport.objects.count() == 1
