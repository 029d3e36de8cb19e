"""The recommender through the product path: Online Retail imported into PostgreSQL, retrained as a job into the
model registry (promoted only when better on the later holdout), read per customer through the region scope."""

import pytest
from django.db.models import Count
from django.http import Http404

from cartportal import access
from cartportal.access import SystemActor
from cartportal.jobs import job_create
from cartportal.models import AuditEvent, Customer, JobRun, Region
from predictions import registry
from predictions.models import Kind, ModelVersion
from predictions.recommend.selectors import recommendations_for
from predictions.recommend.services import METRIC, recommender_retrain
from tests.datasets import import_online_retail

pytestmark = pytest.mark.django_db
ACTOR = SystemActor("task:retrain")


@pytest.fixture(autouse=True)
def _small_search(monkeypatch):
    """The full settings search is measured by the evaluate_recommendations tests; here a small one keeps the
    registry path quick (the holdout, the re-measure and the promotion rule are what is tested)."""
    from predictions.recommend import evaluate

    monkeypatch.setattr(evaluate, "DEFAULT_STAGES", [{"weight_popularity": [0.0, 0.1]}])


def _retrain() -> ModelVersion:
    job = job_create(kind="retrain", parameters={"kind": "recommendation"})
    version = recommender_retrain(actor=ACTOR, job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobRun.State.SUCCEEDED
    return version


def test_retrain_promotes_a_first_version_and_refuses_one_that_is_not_better(data_dir, world):
    import_online_retail(data_dir / "online_retail_first70050rows.csv")
    first = _retrain()
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.ACTIVE and first.kind == Kind.RECOMMENDATION
    metrics = first.metrics
    assert metrics["users"] > 100 and metrics[METRIC] == pytest.approx(metrics["recall_at_k"] + metrics["ndcg_at_k"])
    assert metrics["recall_at_k"] > 0.05
    assert first.holdout["cutoff"] < first.window_end.isoformat()
    assert all(cut < first.holdout["cutoff"] for cut in first.holdout["validation_cutoffs"])

    second = _retrain()  # same data, same recipe: re-measured on the same holdout, it does not beat the active one
    second.refresh_from_db()
    assert second.status == ModelVersion.Status.CANDIDATE
    assert second.metrics["active_on_this_holdout"] == pytest.approx(second.metrics[METRIC])
    refused = AuditEvent.objects.filter(action="model.promotion_refused", object_id=str(second.pk)).get()
    assert "does not beat" in refused.after["reason"]
    assert registry.active_version(Kind.RECOMMENDATION).pk == first.pk


def test_customer_recommendations_are_scoped_and_explained(data_dir, world):
    import_online_retail(data_dir / "online_retail_first70050rows.csv")
    _retrain()
    uk = Region.objects.get(code="UNITED-KINGDOM")
    access.grant_region(world.manager_a, uk, access.REGIONAL_MANAGER)
    customer = (
        Customer.objects.filter(region=uk, orders__status="placed")
        .annotate(lines=Count("orders__lines"))
        .order_by("-lines", "pk")
        .first()
    )
    recs = recommendations_for(world.manager_a, customer.pk, 5)
    assert len(recs) == 5
    assert all(r.reason.startswith(("bought with ", "popular: ")) for r in recs)
    assert any(" by " in r.reason and r.reason.startswith("bought with ") for r in recs)
    with pytest.raises(Http404):
        recommendations_for(world.manager_b, customer.pk, 5)
    with pytest.raises(Http404):
        recommendations_for(world.manager_a, 10**9, 5)
    Customer.objects.filter(pk=customer.pk).update(consent_personalisation=False)
    assert all(r.source == "popularity" for r in recommendations_for(world.manager_a, customer.pk, 5))


def test_the_recommendation_model_is_not_rescored_per_customer(world):
    from predictions.services import PredictionError, rescore_start

    with pytest.raises(PredictionError, match="not stored per customer"):
        rescore_start(actor=SystemActor("task:rescore"), kind=Kind.RECOMMENDATION)
