"""Demo builder for the prediction platform: train the abandonment model and the recommender, train the value model
on the demo shop, register it, promote it, score every customer through the chunked pipeline (in-process, so the
demo works without a worker), and compute the drift of the last complete month."""

from __future__ import annotations

from cartportal.access import SystemActor
from cartportal.jobs import job_create

from . import registry
from .drift import drift_compute, last_complete_month
from .models import ScoringChunk
from .scoring import pipeline
from .scoring.training import TrainingError, train_value
from .services import rescore_start

ACTOR = SystemActor("command:seed_demo")


def build_demo(stdout) -> None:
    _abandonment_demo(stdout)
    _recommendation_demo(stdout)
    try:
        trained = train_value()
    except TrainingError as exc:
        stdout.write(f"predictions: value model not trained ({exc}); the portal shows RFM segments meanwhile")
        return
    metric, higher_is_better = registry.GATE_METRICS["value"]
    version, promoted = registry.register_trained(
        actor=ACTOR, kind="value", trained=trained, metric=metric, higher_is_better=higher_is_better
    )
    figures = {k: trained.metrics.get(k) for k in ("poisson_deviance", "purchase_count_error", "top_decile_lift")}
    stdout.write(
        f"predictions: value model v{version.pk} {trained.algorithm}, 12-month forecast "
        f"({'active' if promoted else 'candidate: ' + version.refusal_reason}); back-test over "
        f"{trained.holdout['horizon_days']} days {figures}, baseline ({trained.metrics['baseline']['name']}) "
        f"poisson_deviance {trained.metrics['baseline']['poisson_deviance']}"
    )
    if not promoted:
        return
    run = score_in_process(kind="value")
    stdout.write(f"predictions: scored {run.expected_rows} customers in {run.chunk_count} chunks (run #{run.pk})")
    report = drift_compute(actor=ACTOR, kind="value", month=last_complete_month(trained.window_end))
    stdout.write(f"predictions: drift {report.month:%Y-%m}: flagged {report.flagged or 'nothing'}")


def _abandonment_demo(stdout) -> None:
    from .abandonment.cart.model import TrainingError as AbandonmentTrainingError
    from .abandonment.services import abandonment_train

    try:
        model, version = abandonment_train(actor=ACTOR)
    except AbandonmentTrainingError as exc:
        stdout.write(f"predictions: abandonment model not trained ({exc})")
        return
    auc, baseline = model.metrics["catboost"]["roc_auc"], model.metrics["logistic_baseline"]["roc_auc"]
    state = version.status if version.status == version.Status.ACTIVE else f"candidate: {version.refusal_reason}"
    stdout.write(
        f"predictions: abandonment model v{version.pk} ({state}), holdout ROC AUC {auc:.3f} "
        f"(logistic baseline {baseline:.3f})"
    )
    if version.status == version.Status.ACTIVE:
        run = score_in_process(kind="abandonment")
        stdout.write(f"predictions: abandonment risk of {run.scores.count()} customers' open carts (run #{run.pk})")


def _recommendation_demo(stdout) -> None:
    """Train the recommender as the Models tab's Retrain does (a job, the registry's gate), so bundle, house-brand
    and price-drop content has a model to draw on from the first start."""
    from .recommend.interactions import InteractionError
    from .recommend.services import METRIC, recommender_retrain

    job = job_create(kind="retrain", parameters={"kind": "recommendation"})
    try:
        version = recommender_retrain(actor=ACTOR, job_id=job.pk)
    except (InteractionError, registry.RegistryError) as exc:
        stdout.write(f"predictions: recommender not trained ({exc}); bundle and house-brand offers wait for it")
        return
    version.refresh_from_db()
    metrics = version.metrics
    state = "active" if version.status == version.Status.ACTIVE else f"candidate: {version.refusal_reason}"
    stdout.write(
        f"predictions: recommender v{version.pk} {version.algorithm} ({state}), holdout recall@10 "
        f"{metrics['recall_at_k']:.3f}, {METRIC} {metrics[METRIC]:.3f} (popularity {metrics['baseline'][METRIC]:.3f})"
    )


def score_in_process(*, kind: str):
    """Run a whole rescore in this process (no Celery): the same chunks, COPY and atomic publish."""
    run = rescore_start(actor=ACTOR, kind=kind, enqueue=False)
    for chunk_id in ScoringChunk.objects.filter(run=run).values_list("pk", flat=True):
        pipeline.score_chunk(chunk_id)
    pipeline.publish_if_complete(run.pk)
    run.refresh_from_db()
    return run
