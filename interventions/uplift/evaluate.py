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


def inner_cv_qini(spec: LearnerSpec, X, y, t, cat: list[str], seed: int, folds: int) -> float:
    values = []
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_idx, val_idx in cv.split(X, strata(y, t)):
        learner = UpliftLearner(spec, cat, seed).fit(X.iloc[fit_idx], y.iloc[fit_idx], t.iloc[fit_idx])
        values.append(scores(y.iloc[val_idx], learner.predict(X.iloc[val_idx]), t.iloc[val_idx])["qini"])
    return float(np.mean(values))


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
    cv_scores = {}
    for spec in candidates:
        cv_scores[spec.name] = round(inner_cv_qini(spec, X_tr, y_tr, t_tr, exp.cat_features, seed, folds), 4)
        log(f"inner CV qini {spec.name}: {cv_scores[spec.name]}")
    best = max(candidates, key=lambda s: cv_scores[s.name])
    log(f"selected {best.name}; fitting on the training half ({len(X_tr)} rows)")
    model = UpliftLearner(best, exp.cat_features, seed).fit(X_tr, y_tr, t_tr)
    result = {**scores(y_te, model.predict(X_te), t_te), "model": best.name, "inner_cv_qini": cv_scores}
    comparison = UpliftLearner(COMPARISON, exp.cat_features, seed).fit(X_tr, y_tr, t_tr)
    result["comparison"] = {"approach": COMPARISON.name, **scores(y_te, comparison.predict(X_te), t_te)}
    result.update({"seed": seed, "train_rows": len(X_tr), "test_rows": len(X_te)})
    return result
