"""Backtest of the cart abandonment model at a cut-off: train on carts opened before it (outcomes as known at the
cut-off), then score the carts opened after it at their prediction points and compare with what happened."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.conf import settings
from django.utils import timezone

from cartportal.models import Session
from predictions.abandonment.cart import carts, features, points
from predictions.abandonment.cart.model import CartAbandonmentModel, TrainingError, scores


def run(
    *,
    cutoff: dt.datetime,
    region_ids: list[int] | None = None,
    window_hours: int | None = None,
    iterations: int = 400,
    seed: int = 0,
) -> dict:
    """The backtest's figures: carts, bought, roc_auc, pr_auc, brier, top_decile_lift, drivers (mean absolute
    contribution per driver, log-odds), plus the training size, the baseline's ROC AUC and the window."""
    with points.recovery_window(window_hours):
        training = carts.labelled_carts(region_ids=region_ids, horizon=cutoff)
        model = CartAbandonmentModel(seed=seed, iterations=iterations).fit(training)
        sessions = Session.objects.filter(is_bot=False).in_regions(region_ids)
        later = points.cart_points(sessions, horizon=timezone.now(), since=cutoff)
        later = carts.with_items(features.for_points(later[later["abandoned"].notna()]))
    y = later["abandoned"].to_numpy(int)
    if len(later) < 2 or y.min() == y.max():
        raise TrainingError(
            f"{len(later)} carts with a known outcome after the cut-off, "
            f"{int(len(y) - y.sum())} bought: both outcomes are needed to measure the model"
        )
    figures = scores(y, model.predict(later))
    contributions = model.driver_log_odds(later).abs().mean()
    return {
        "carts": int(len(later)),
        "bought": int(len(y) - y.sum()),
        **{k: figures[k] for k in ("roc_auc", "pr_auc", "brier", "top_decile_lift")},
        "drivers": {d: round(float(v), 4) for d, v in contributions.sort_values(ascending=False).items()},
        "training_carts": int(len(training)),
        "baseline_roc_auc": model.metrics["logistic_baseline"]["roc_auc"],
        "window_hours": window_hours or settings.CARTPORTAL_ABANDONMENT_WINDOW_HOURS,
        "cutoff": cutoff.date().isoformat(),
        "observed_abandonment": round(float(np.mean(y)), 4),
    }
