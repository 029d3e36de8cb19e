"""Training the recommender and putting it in the model registry.

The recipe is measured on a later holdout: the settings are chosen on validation cut-offs before the holdout's
cut-off, the model fitted on everything before it is scored on the purchases after it. When a version is
active, its own settings are re-fitted on the same training part and scored on the same holdout, so the two
figures are comparable; the candidate becomes active only when it scores higher, and higher than popularity on
the same holdout (the registry's one gate, `registry.promote_if_better`). The stored artifact is then
refitted on every purchase (the holdout included), so recent purchases count.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
from django.conf import settings

from cartportal.jobs import job_failed, job_finished, job_progress, job_started
from predictions import registry
from predictions.models import Kind, ModelVersion

from . import evaluate as ev
from .interactions import InteractionError
from .model import Params
from .selectors import product_names_unchecked, purchases_unchecked
from .train import fit

METRIC = "ranking_score"  # recall@k + ndcg@k on the holdout
CARD = {
    "intended_use": "Top-N product recommendations per customer, bundle companions and alternatives.",
    "data": "Purchases (order lines) of every region, cancellations and returns removed.",
    "limitations": "Customers without purchases get the best-sellers; new products need buyers before they are "
    "recommended; the holdout only counts products a customer had not bought before.",
}


def holdout_cutoff(purchases: pd.DataFrame) -> pd.Timestamp:
    share = float(getattr(settings, "RECOMMENDATION_HOLDOUT_SHARE", 0.85))
    return ev.validation_cutoff(purchases, share)


def train(purchases: pd.DataFrame, *, k: int = 10, active_params: Params | None = None) -> dict:
    """Choose, measure on the later holdout, refit on everything. Returns what the registry needs."""
    cut = holdout_cutoff(purchases)
    data = ev.split(purchases, cut)
    if not data.targets:
        raise InteractionError(f"no customer bought new products after the holdout cut-off {cut.date()}")
    chosen = ev.choose_model(data.train, k)
    metrics = _holdout(data, cut, chosen.params, k)
    popularity = _holdout(data, cut, ev.POPULARITY, k)
    metrics["baseline"] = {"name": "popularity", METRIC: popularity[METRIC], "recall_at_k": popularity["recall_at_k"]}
    if active_params is not None:
        metrics[registry.REMEASURED] = _holdout(data, cut, active_params, k)[METRIC]
    model = fit(purchases, purchases["at"].max() + pd.Timedelta(seconds=1), chosen.params, baskets=True)
    model.names = product_names_unchecked(model.items)
    fingerprint = hashlib.sha256(
        f"{cut.isoformat()}|{len(data.targets)}|{sum(map(len, data.targets.values()))}".encode()
    ).hexdigest()[:16]
    return {
        "model": model,
        "metrics": metrics,
        "params": chosen.params,
        "holdout": {
            "cutoff": cut.isoformat(),
            "description": "purchases after the cut-off of customers who bought before it; new products only",
            "customers": len(data.targets),
            "fingerprint": fingerprint,
            "validation_cutoffs": [c.isoformat() for c in chosen.validation_cutoffs],
        },
        "window": (purchases["at"].min(), purchases["at"].max()),
    }


def _holdout(data: ev.Split, cut: pd.Timestamp, params: Params, k: int) -> dict:
    card = ev.ranking_metrics(ev.recommend_for_targets(fit(data.train, cut, params), data.targets, k), data.targets, k)
    return {**card.as_dict(), "k": k, METRIC: round(card.recall_at_k + card.ndcg_at_k, 4)}


def recommender_retrain(*, actor, job_id: int) -> ModelVersion:
    """Train a candidate, register it, promote it when it beats the active version on the same later holdout."""
    job_started(job_id)
    try:
        purchases = purchases_unchecked()
        active = registry.active_version(Kind.RECOMMENDATION)
        active_params = registry.load_version(active).params if active else None
        job_progress(job_id, 10, message="choosing settings on validation cut-offs")
        trained = train(purchases, active_params=active_params)
    except (InteractionError, registry.RegistryError) as exc:
        job_failed(job_id, str(exc))
        raise
    job_progress(job_id, 80, message="trained; registering")
    start, end = (t.to_pydatetime().replace(tzinfo=dt.UTC) for t in trained["window"])
    version = registry.register_candidate(
        actor=actor,
        kind=Kind.RECOMMENDATION,
        algorithm=ev.describe_algorithm(trained["params"]),
        model_object=trained["model"],
        features=["purchases per customer and product"],
        metrics={**trained["metrics"], "params": trained["params"].describe()},
        holdout=trained["holdout"],
        window_start=start,
        window_end=end,
        card=CARD,
    )
    promoted = registry.promote_if_better(actor=actor, version=version, metric=METRIC)
    job_finished(job_id, counts={"model_version": version.pk, "promoted": promoted, **_numbers(trained["metrics"])})
    return version


def _numbers(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if isinstance(value, int | float)}
