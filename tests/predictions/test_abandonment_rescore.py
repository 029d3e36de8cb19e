"""The abandonment model retrained through the registry (what the portal's Retrain and the weekly beat run) and
rescored through the chunked pipeline: one score per customer with a session, for the customer's latest session,
with its friction drivers."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from cartportal.access import SystemActor
from cartportal.jobs import job_create
from cartportal.models import Customer, JobRun, Session
from predictions import registry, services
from predictions.abandonment import features
from predictions.abandonment.features import DRIVERS
from predictions.demo import score_in_process
from predictions.models import Score
from tests.predictions.helpers import shopper_rows, shopper_session


@pytest.fixture
def shop(world, data_dir):
    """600 real sessions (online shoppers) of 200 customers in two regions, three sessions each, a day apart;
    20 more customers without any session."""
    rows = shopper_rows(data_dir, 600, seed=5)
    now = timezone.now()
    customers = [
        Customer.objects.create(external_id=f"AB{i:04d}", region=world.region_a if i % 4 else world.region_b)
        for i in range(220)
    ]
    Session.objects.bulk_create(
        shopper_session(
            r,
            external_id=f"abs-{i}",
            customer=customers[i % 200],
            region_id=customers[i % 200].region_id,
            started_at=now - dt.timedelta(days=30 - i // 200, minutes=i),
        )
        for i, r in enumerate(rows.itertuples())
    )
    return world


def test_retrain_registers_promotes_and_rescoring_scores_each_customers_latest_session(shop):
    actor = SystemActor("task:retrain")
    job = job_create(kind="retrain", parameters={"kind": "abandonment"})
    version = services.retrain_run(actor=actor, job_id=job.pk, kind="abandonment", rescore=False)

    assert registry.active_version("abandonment") == version  # the first model is promoted
    assert 0.5 < version.metrics["roc_auc"] <= 1.0 and version.holdout["rows"] == 150
    finished = JobRun.objects.get(pk=job.pk)
    assert finished.state == JobRun.State.SUCCEEDED and finished.counts["promoted"] is True

    run = score_in_process(kind="abandonment")
    assert run.state == "published"
    scores = {s.customer_id: s for s in Score.objects.filter(run=run)}
    with_sessions = set(Session.objects.values_list("customer_id", flat=True))
    assert set(scores) == with_sessions and len(scores) == 200  # the 20 customers without a session get none

    latest = {c: max(Session.objects.filter(customer_id=c), key=lambda s: s.started_at).pk for c in list(scores)[:25]}
    assert {c: scores[c].session_id for c in latest} == latest
    # independently: the active model on those sessions' features gives the stored values
    model = registry.load_active("abandonment")
    frame = features.build(Session.objects.filter(pk__in=latest.values()), run.as_of)
    expected = dict(zip(frame["customer_id"].astype(int), model.predict(frame), strict=True))
    assert all(scores[c].value == pytest.approx(expected[c], abs=1e-9) for c in latest)
    assert all(set(s.contributions) == set(DRIVERS) for s in scores.values())
    assert all(0.0 <= s.value <= 1.0 for s in scores.values())


def test_retrain_of_a_worse_model_keeps_the_active_one(shop):
    actor = SystemActor("task:retrain")
    first = services.retrain_run(
        actor=actor, job_id=job_create(kind="retrain", parameters={}).pk, kind="abandonment", rescore=False
    )
    Session.objects.update(converted=None)  # nothing finished any more: training must refuse, not promote
    job = job_create(kind="retrain", parameters={"kind": "abandonment"})
    # too little data: the job ends failed with what is missing, no stack trace, and nothing is registered
    assert services.retrain_run(actor=actor, job_id=job.pk, kind="abandonment", rescore=False) is None
    failed = JobRun.objects.get(pk=job.pk)
    assert failed.state == JobRun.State.FAILED and "finished sessions" in failed.error
    assert registry.active_version("abandonment") == first
    assert np.isfinite(first.metrics["roc_auc"])


def test_the_abandonment_tab_reads_the_published_run_within_the_users_regions(shop):
    from predictions.abandonment import selectors

    services.retrain_run(
        actor=SystemActor("task:retrain"),
        job_id=job_create(kind="retrain", parameters={}).pk,
        kind="abandonment",
        rescore=False,
    )
    run = score_in_process(kind="abandonment")
    view = selectors.at_risk(shop.manager_a)
    assert view.scored and f"run #{run.pk}" in view.source
    stored = {s.session_id: s.value for s in Score.objects.filter(run=run, region=shop.region_a).exclude(session=None)}
    assert {r["session_id"]: r["probability"] for r in view.rows} == {k: round(v, 4) for k, v in stored.items()}
    assert [r["probability"] for r in view.rows] == sorted((r["probability"] for r in view.rows), reverse=True)
    assert {r["region"] for r in view.rows} == {shop.region_a.code.upper()}
    assert set(view.drivers_by_region) == {shop.region_a.code.lower()}
    assert any("raises the risk of abandoning" in r["reason"] for r in view.rows)
    everyone = selectors.at_risk(shop.executive)
    assert len(everyone.rows) == 200 and set(everyone.drivers_by_region) == {"north", "south"}
