"""Writes for the abandonment model: train from the database and register the result."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
from django.db import transaction
from django.utils import timezone

from cartportal import audit
from cartportal.models import Session
from predictions.abandonment import features
from predictions.abandonment.model import AbandonmentModel

KIND = "abandonment"
_latest: dict[str, AbandonmentModel] = {}


CARD = (
    "Probability that a session ends without a purchase. CatBoost on session, cart, order, review, shipping "
    "and price features known before the cut-off; isotonic calibration; logistic-regression baseline; "
    "metrics on the latest 25 % of sessions in time."
)


def train(
    *, region_ids: list[int] | None = None, cutoff: dt.datetime | None = None, seed: int = 0, iterations: int = 400
):
    """Fit on sessions started before ``cutoff`` (default now) and evaluate on the latest quarter in time.
    Returns a TrainedModel for the registry (the portal's Retrain and the weekly beat call this)."""
    from predictions.scoring.training import TrainedModel

    cutoff = cutoff or timezone.now()
    frame = features.build(Session.objects.filter(is_bot=False).in_regions(region_ids), cutoff)
    model = AbandonmentModel(seed=seed, iterations=iterations).fit(frame)
    _latest[KIND] = model
    started = pd.to_datetime(frame["started_at"], utc=True).dropna() if "started_at" in frame else pd.Series([])
    ids = sorted(int(i) for i in model.holdout_ids)
    return TrainedModel(
        scorer=model,
        algorithm="catboost+isotonic",
        features=list(features.FEATURES),
        metrics={
            "roc_auc": model.metrics["catboost"]["roc_auc"],
            **model.metrics,
            "baseline": {"name": "logistic regression", **model.metrics["logistic_baseline"]},
        },
        holdout={
            "fingerprint": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16],
            "kind": "time-based",
            "rows": model.metrics["holdout_rows"],
        },
        window_start=started.min().to_pydatetime() if len(started) else None,
        window_end=cutoff,
        card={"summary": CARD, "training_rows": int(frame["abandoned"].notna().sum())},
    )


def abandonment_train(
    *,
    actor,
    region_ids: list[int] | None = None,
    cutoff: dt.datetime | None = None,
    seed: int = 0,
    iterations: int = 400,
):
    """Train (see ``train``), register the model as a candidate (promoted when it beats the active one on the same
    holdout) and audit it. Returns (model, version)."""
    from predictions import registry

    trained = train(region_ids=region_ids, cutoff=cutoff, seed=seed, iterations=iterations)
    metric, higher_is_better = registry.GATE_METRICS[KIND]
    version, _promoted = registry.register_trained(
        actor=actor, kind=KIND, trained=trained, metric=metric, higher_is_better=higher_is_better
    )
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="predictions.abandonment_trained",
            object_type="ModelVersion",
            object_id=version.pk,
            after={
                "metrics": trained.scorer.metrics,
                "rows": trained.card["training_rows"],
                "cutoff": trained.window_end,
            },
        )
    return trained.scorer, version


def latest_model() -> AbandonmentModel | None:
    """The active registered model, else the one trained last in this process, else None."""
    from predictions import registry

    try:
        return registry.load_active(KIND)
    except registry.RegistryError:
        return _latest.get(KIND)
