"""Held-out evaluation of uplift learners with scikit-uplift's metrics.

Protocol: a 50/50 split stratified on treatment x target (random_state=seed). On the training half only,
each candidate learner is scored by stratified K-fold Qini AUC; the best one is refit on the whole training
half and scored once on the held-out half, next to the comparison approach (class transformation).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklift.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

from interventions.uplift.data import Experiment
from interventions.uplift.learners import CANDIDATES, COMPARISON, LearnerSpec, UpliftLearner

ENSEMBLE = "s_learner_ensemble"


def scores(y: pd.Series, uplift: np.ndarray, t: pd.Series) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return {
            "qini": round(float(qini_auc_score(y, uplift, t)), 4),
            "auuc": round(float(uplift_auc_score(y, uplift, t)), 4),
            "uplift_at_30": round(float(uplift_at_k(y, uplift, t, strategy="overall", k=0.3)), 4),
        }


def strata(y: pd.Series, t: pd.Series) -> pd.Series:
    return t.astype(str) + "_" + y.astype(str)


def split(exp: Experiment, seed: int):
    return train_test_split(
        exp.features,
        exp.target,
        exp.treatment,
        test_size=0.5,
        stratify=strata(exp.target, exp.treatment),
        random_state=seed,
    )


def inner_cv_predictions(specs: list[LearnerSpec], X, y, t, cat: list[str], seed: int, folds: int) -> list:
    """Out-of-fold uplift predictions per fold: [(validation index, {learner name: prediction})]."""
    out = []
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_idx, val_idx in cv.split(X, strata(y, t)):
        preds = {}
        for spec in specs:
            learner = UpliftLearner(spec, cat, seed).fit(X.iloc[fit_idx], y.iloc[fit_idx], t.iloc[fit_idx])
            preds[spec.name] = learner.predict(X.iloc[val_idx])
        out.append((val_idx, preds))
    return out


def ensemble_predict(models: list[UpliftLearner], X) -> np.ndarray:
    return np.mean([m.predict(X) for m in models], axis=0)


def evaluate(
    exp: Experiment,
    *,
    seed: int = 42,
    folds: int = 2,
    candidates: list[LearnerSpec] | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict:
    X_tr, X_te, y_tr, y_te, t_tr, t_te = split(exp, seed)
    candidates = candidates or CANDIDATES
    oof = inner_cv_predictions(candidates, X_tr, y_tr, t_tr, exp.cat_features, seed, folds)
    options = {spec.name: [spec] for spec in candidates}
    options[ENSEMBLE] = list(candidates)  # mean uplift of every candidate: less variance than any one
    cv_scores = {}
    for name, members in options.items():
        fold_scores = [
            scores(y_tr.iloc[idx], np.mean([preds[m.name] for m in members], axis=0), t_tr.iloc[idx])["qini"]
            for idx, preds in oof
        ]
        cv_scores[name] = round(float(np.mean(fold_scores)), 4)
        log(f"inner CV qini {name}: {cv_scores[name]}")
    best = max(options, key=lambda n: cv_scores[n])
    log(f"selected {best}; fitting on the training half ({len(X_tr)} rows)")
    models = [UpliftLearner(spec, exp.cat_features, seed).fit(X_tr, y_tr, t_tr) for spec in options[best]]
    result = {**scores(y_te, ensemble_predict(models, X_te), t_te), "model": best, "inner_cv_qini": cv_scores}
    comparison = UpliftLearner(COMPARISON, exp.cat_features, seed).fit(X_tr, y_tr, t_tr)
    result["comparison"] = {"approach": COMPARISON.name, **scores(y_te, comparison.predict(X_te), t_te)}
    result.update({"seed": seed, "train_rows": len(X_tr), "test_rows": len(X_te)})
    return result
