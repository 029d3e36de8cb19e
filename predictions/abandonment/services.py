"""Writes for the abandonment model: train from the database and register the result."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone

from cartportal import audit
from cartportal.models import Session
from predictions.abandonment import features
from predictions.abandonment.model import AbandonmentModel

KIND = "abandonment"
_latest: dict[str, AbandonmentModel] = {}


def abandonment_train(
    *,
    actor,
    region_ids: list[int] | None = None,
    cutoff: dt.datetime | None = None,
    seed: int = 0,
    iterations: int = 400,
):
    """Train on sessions started before ``cutoff`` (default now) in the actor's regions, evaluate on the latest
    quarter in time, register the model as a candidate (promoted when it beats the active one) and audit it."""
    cutoff = cutoff or timezone.now()
    sessions = Session.objects.filter(is_bot=False).in_regions(region_ids)
    frame = features.build(sessions, cutoff)
    model = AbandonmentModel(seed=seed, iterations=iterations).fit(frame)
    _latest[KIND] = model
    started = frame["started_at"].dropna()
    card = (
        "Probability that a session ends without a purchase. CatBoost on session, cart, order, review, shipping "
        "and price features known before the cut-off; isotonic calibration; logistic-regression baseline; "
        "metrics on the latest 25 % of sessions in time."
    )
    version = _register(actor, model, frame, cutoff, started, card)
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="predictions.abandonment_trained",
            object_type="ModelVersion" if version is not None else "AbandonmentModel",
            object_id=getattr(version, "pk", "") or "",
            after={"metrics": model.metrics, "rows": int(frame["abandoned"].notna().sum()), "cutoff": cutoff},
        )
    return model, version


def _register(actor, model, frame, cutoff, started, card):
    """Register through the model registry when the project has one (promoted only if it beats the active
    version on the same holdout); otherwise the model lives in this process only."""
    try:
        from predictions import registry
    except ImportError:
        return None
    ids = sorted(int(i) for i in model.holdout_ids)
    fingerprint = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    version = registry.register_candidate(
        actor=actor,
        kind=KIND,
        algorithm="catboost+isotonic",
        model_object=model,
        features=list(features.FEATURES),
        metrics={"roc_auc": model.metrics["catboost"]["roc_auc"], **model.metrics},
        holdout={"fingerprint": fingerprint, "rows": model.metrics["holdout_rows"]},
        window_start=started.min() if len(started) else None,
        window_end=cutoff,
        card={"summary": card},
    )
    registry.promote_if_better(actor=actor, version=version, metric="roc_auc")
    return version


def latest_model() -> AbandonmentModel | None:
    """The active registered model, else the one trained last in this process, else None."""
    try:
        from predictions import registry
    except ImportError:
        return _latest.get(KIND)
    try:
        return registry.load_active(KIND)
    except (getattr(registry, "RegistryError", LookupError), LookupError):
        return _latest.get(KIND)
