"""Writes for the cart abandonment model: train from the database and register the result."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cartportal import audit
from predictions.abandonment.cart import carts
from predictions.abandonment.cart.features import DRIVERS, FEATURES
from predictions.abandonment.cart.model import CartAbandonmentModel

KIND = "abandonment"


CARD = {
    "summary": "Probability that an open cart is not bought within the recovery window after its latest change.",
    "intended_use": "Rank open carts by expected lost revenue (risk x cart value) and say why, so that a manager "
    "can act while the cart is still open. Not for judging individual customers.",
    "data": "Carts (a session's cart events) at their prediction point, the latest add or remove before any "
    "purchase. Every feature is read from rows dated before that point: cart contents and value, each item's "
    "price against its recent price, shipping cost share, item ratings and review-text sentiment, browsing so "
    "far, the customer's orders, returns, late deliveries and earlier abandoned carts, device, hour, region. "
    "CatBoost, isotonic calibration, logistic-regression baseline; holdout = the latest 25 % of carts in time.",
    "limitations": "Carts of anonymous sessions are scored live and in backtests but not stored per customer. "
    "Shops that export no shipping line have no shipping cost share (the customer's late deliveries remain).",
}


def train(
    *, region_ids: list[int] | None = None, cutoff: dt.datetime | None = None, seed: int = 0, iterations: int = 400
):
    """Fit on carts whose outcome is known at ``cutoff`` (default now), evaluated on the latest quarter in time.
    Returns a TrainedModel for the registry (the portal's Retrain and the weekly beat call this)."""
    from predictions.scoring.training import TrainedModel

    cutoff = cutoff or timezone.now()
    frame = carts.labelled_carts(region_ids=region_ids, horizon=cutoff)
    model = CartAbandonmentModel(seed=seed, iterations=iterations).fit(frame)
    ids = sorted(int(i) for i in model.holdout_ids)
    cat, baseline = model.metrics["catboost"], model.metrics["logistic_baseline"]
    return TrainedModel(
        scorer=model,
        algorithm="catboost+isotonic (carts)",
        features=list(FEATURES),
        # flat holdout metrics of the model and of its baseline on the same holdout, for the registry's gates
        metrics={
            **{k: cat[k] for k in ("roc_auc", "pr_auc", "brier", "top_decile_lift")},
            **{f"baseline_{k}": baseline[k] for k in ("roc_auc", "pr_auc", "brier", "top_decile_lift")},
            "baseline": {"name": "logistic regression", **baseline},
            **model.metrics,
        },
        holdout={
            "fingerprint": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16],
            "kind": "time-based",
            "rows": model.metrics["holdout_rows"],
            "from": model.metrics["holdout_from"],
        },
        window_start=frame["t"].min().to_pydatetime() if len(frame) else None,
        window_end=cutoff,
        card={
            **CARD,
            "training_rows": int(len(frame)),
            "window_hours": settings.CARTPORTAL_ABANDONMENT_WINDOW_HOURS,
            "drivers": {d: list(names) for d, names in DRIVERS.items()},
            "brier": cat["brier"],
            "reliability": model.metrics["reliability"],
        },
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
    version.refresh_from_db()  # the promotion changed the row, not this instance
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="predictions.abandonment_trained",
            object_type="ModelVersion",
            object_id=version.pk,
            after={
                "metrics": {k: v for k, v in trained.metrics.items() if k != "reliability"},
                "rows": trained.card["training_rows"],
                "cutoff": trained.window_end,
            },
        )
    return trained.scorer, version


def latest_model() -> CartAbandonmentModel | None:
    """The active registered model, else None (a candidate the registry refused is never used for scoring)."""
    from predictions import registry

    try:
        return registry.load_active(KIND)
    except registry.RegistryError:
        return None
