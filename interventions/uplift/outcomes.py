"""Uplift learned from the stored outcomes of past campaigns.

Training frame: one row per assignment with an outcome in a completed campaign the actor can see; features are
those recorded on the assignment when the customer was assigned (so nothing measured after the treatment leaks
in) plus the campaign's intervention; treatment = not in the holdout (or: in `treated_arm`, against the holdout
only); target = visited or converted. The learner and the held-out protocol are those of `evaluate`; the primary
learner is then refitted on every row, registered as an `uplift` model version and made active when its held-out
Qini beats the active version's on the same split.

Next-best action: for each catalogue intervention the model has seen, a customer's uplift is the model's
difference between treated and not treated for that intervention, with the customer's features as last recorded
on an assignment (or as they are now); `catalogue.next_best_action` then weighs it against the cost. A model of
visits (the default: in the Hillstrom test conversions are too rare to rank customers by, held-out Qini below
zero on a third of the file) is turned into conversions with the measured share of visits that convert.
"""

from __future__ import annotations

import hashlib

import pandas as pd
from django.db.models import Q
from django.utils import timezone

from cartportal.access import MANAGE_MODELS, authorize
from cartportal.errors import AppError
from interventions.models import Assignment, Campaign
from interventions.selectors import customer_features
from interventions.uplift.data import Experiment
from interventions.uplift.evaluate import evaluate, scores, split
from interventions.uplift.learners import PRIMARY, UpliftLearner

TARGETS = ("visited", "converted")
INTERVENTION = "intervention"


class OutcomeTrainingError(AppError, ValueError):
    """Not enough stored outcomes to train; the message says why."""


def _frame(features: list[dict], interventions: list[str]) -> tuple[pd.DataFrame, list[str]]:
    X = pd.DataFrame(features)
    X = X[sorted(X.columns)]  # the database keeps no key order; a fixed one keeps the model deterministic
    X[INTERVENTION] = interventions
    cat = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    for c in cat:
        X[c] = X[c].where(X[c].notna(), "(missing)").astype(str)
    return X, cat


def experiment_from_outcomes(
    user, *, target: str = "visited", intervention: str | None = None, treated_arm: str | None = None
) -> Experiment:
    if target not in TARGETS:
        raise OutcomeTrainingError(f"target must be one of {', '.join(TARGETS)}")
    rows = Assignment.objects.restrict(user, "view").filter(
        campaign__state=Campaign.State.COMPLETED, outcome_at__isnull=False, **{f"{target}__isnull": False}
    )
    if intervention:
        rows = rows.filter(campaign__intervention=intervention)
    if treated_arm:
        rows = rows.filter(Q(arm=treated_arm) | Q(holdout=True))
    values = list(
        rows.order_by("customer_id", "campaign_id").values_list("features", "campaign__intervention", "holdout", target)
    )
    if len(values) < 40 or len({v[2] for v in values}) < 2 or len({v[3] for v in values}) < 2:
        raise OutcomeTrainingError("need at least 40 stored outcomes with both arms and both outcome values")
    X, cat = _frame([v[0] for v in values], [v[1] for v in values])
    y = pd.Series([int(v[3]) for v in values], name=target)
    t = pd.Series([0 if v[2] else 1 for v in values], name="treatment")
    return Experiment(features=X, target=y, treatment=t, cat_features=cat, treatment_col="holdout")


def outcomes_uplift_train(
    *,
    actor,
    target: str = "visited",
    intervention: str | None = None,
    treated_arm: str | None = None,
    seed: int = 42,
    params: dict | None = None,
):
    """Held-out evaluation, then the primary learner on every row, registered (and promoted when better)."""
    authorize(actor, MANAGE_MODELS, what="model")
    from predictions import registry

    exp = experiment_from_outcomes(actor, target=target, intervention=intervention, treated_arm=treated_arm)
    report = evaluate(exp, seed=seed, params=params)
    learner = UpliftLearner(PRIMARY, exp.cat_features, seed, params).fit(exp.features, exp.target, exp.treatment)
    split_id = hashlib.sha256(f"{len(exp.target)}:{int(exp.target.sum())}:{seed}".encode()).hexdigest()[:16]
    version = registry.register_candidate(
        actor=actor,
        kind="uplift",
        algorithm=f"catboost_{PRIMARY}",
        model_object=learner,
        features=list(exp.features.columns),
        metrics={k: report[k] for k in ("qini", "auuc", "uplift_at_30")}
        | {"comparison": report["comparison"], "baseline": {"name": "random targeting", "qini": 0.0}},
        holdout={"fingerprint": split_id, "rows": report["test_rows"], "seed": seed},
        window_end=timezone.now(),
        card={
            "target": target,
            "intervention": intervention or "all",
            "treated_arm": treated_arm or "all treated arms",
            "interventions_seen": sorted(set(exp.features[INTERVENTION])),
            "rows": len(exp.target),
            "source": "stored outcomes of completed campaigns",
            **arm_rates(exp),
        },
    )
    return version, report, _promote(actor, version, exp, seed, report["qini"])


def arm_rates(exp: Experiment) -> dict:
    """Rows and outcome rates of the treated and control rows the model learnt from (the simulator's interval
    starts from how precisely they measure the effect)."""
    treated, control = exp.target[exp.treatment == 1], exp.target[exp.treatment == 0]
    return {
        "treated_rows": len(treated),
        "control_rows": len(control),
        "treated_rate": float(treated.mean()) if len(treated) else 0.0,
        "control_rate": float(control.mean()) if len(control) else 0.0,
    }


def _promote(actor, version, exp: Experiment, seed: int, qini: float) -> bool:
    """Active when it beats the active version's Qini on this held-out half (the active model is scored on it
    again when it was measured on other rows: stored outcomes grow between trainings)."""
    from predictions import registry

    active = registry.active_version("uplift")
    if active is None or active.holdout_fingerprint == version.holdout_fingerprint:
        return registry.promote_if_better(actor=actor, version=version, metric="qini")
    if registry.baseline_gap(version, "qini", True):
        return registry.promote_if_better(actor=actor, version=version, metric="qini")  # refused, reason recorded
    _X_tr, X_te, _y_tr, y_te, _t_tr, t_te = split(exp.features, exp.target, exp.treatment, seed)
    old = registry.load_version(active)
    active_qini = scores(y_te, old.predict(_aligned(X_te, active.features, old.cat_features)), t_te)["qini"]
    if qini <= active_qini:
        return False
    registry.activate(actor=actor, version=version, reason=f"held-out qini {qini} beats {active_qini}")
    return True


def _aligned(X: pd.DataFrame, columns: list[str], cat_features: list[str]) -> pd.DataFrame:
    """X with a model's columns in its order; features it lacks are missing."""
    X = X.reindex(columns=columns)
    for c in cat_features:
        X[c] = X[c].where(X[c].notna(), "(missing)").astype(str)
    return X


def latest_features(customer) -> dict:
    last = (
        Assignment.objects.filter(customer=customer)
        .exclude(features={})
        .order_by("-assigned_at", "-id")
        .values_list("features", flat=True)
        .first()
    )
    return last if last is not None else customer_features(_unchecked(), [customer.pk]).get(customer.pk, {})


def _unchecked():
    """The caller has already checked that the customer is visible; the profile read needs no second scope."""
    from cartportal.access import SystemActor

    return SystemActor("selector:next_best_action")


def uplift_by_intervention(customer) -> tuple[dict[str, float], str]:
    """Predicted uplift per catalogue intervention the active model has seen, and the outcome it is an uplift of
    (visited or converted); ({}, "") when there is no model."""
    from predictions import registry

    try:
        version, learner = registry.load_active_version("uplift")
    except registry.RegistryError:
        return {}, ""
    seen = version.card.get("interventions_seen", [])
    features = latest_features(customer)
    X = _aligned(_frame([features] * len(seen), seen)[0], version.features, learner.cat_features)
    return dict(zip(seen, (float(u) for u in learner.predict(X)), strict=True)), version.card.get("target", "")


def predicted_uplift(version, learner, features: list[dict], intervention: str):
    """The model's uplift of `intervention` for customers with these recorded features (one value each)."""
    X = _aligned(_frame(features, [intervention] * len(features))[0], version.features, learner.cat_features)
    return learner.predict(X)
