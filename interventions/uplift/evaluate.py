"""Held-out evaluation of uplift learners with scikit-uplift's metrics.

Protocol: a 50/50 split stratified on treatment x target (random_state=seed). The primary learner (CatBoost
S-learner) and the comparison approach (T-learner) are fitted on the training half with fixed parameters and
scored once on the held-out half; nothing is chosen by looking at the held-out half.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklift.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

from interventions.uplift.data import Experiment
from interventions.uplift.learners import COMPARISON, PRIMARY, UpliftLearner


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


def split(features: pd.DataFrame, y: pd.Series, t: pd.Series, seed: int, test_size: float = 0.5):
    return train_test_split(features, y, t, test_size=test_size, stratify=strata(y, t), random_state=seed)


def fit_and_score(
    approach: str, exp: Experiment, seed: int, parts: tuple, params: dict | None = None
) -> tuple[UpliftLearner, dict]:
    X_tr, X_te, y_tr, y_te, t_tr, t_te = parts
    learner = UpliftLearner(approach, exp.cat_features, seed, params).fit(X_tr, y_tr, t_tr)
    return learner, scores(y_te, learner.predict(X_te), t_te)


def training_cv_qini(exp: Experiment, parts: tuple, seed: int, folds: int, params: dict | None) -> list[float]:
    """Qini of the primary learner per fold of a K-fold split of the training half: how much the figure moves
    between samples of this size (a diagnostic; the held-out half is not touched)."""
    X, y, t = parts[0], parts[2], parts[4]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = []
    for fit_idx, val_idx in cv.split(X, strata(y, t)):
        learner = UpliftLearner(PRIMARY, exp.cat_features, seed, params)
        learner.fit(X.iloc[fit_idx], y.iloc[fit_idx], t.iloc[fit_idx])
        out.append(scores(y.iloc[val_idx], learner.predict(X.iloc[val_idx]), t.iloc[val_idx])["qini"])
    return out


def evaluate(
    exp: Experiment,
    *,
    seed: int = 42,
    folds: int = 0,
    params: dict | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict:
    parts = split(exp.features, exp.target, exp.treatment, seed)
    log(f"training half {len(parts[0])} rows, held-out half {len(parts[1])} rows")
    _, primary = fit_and_score(PRIMARY, exp, seed, parts, params)
    log(f"{PRIMARY} (primary) on the held-out half: {primary}")
    _, comparison = fit_and_score(COMPARISON, exp, seed, parts, params)
    log(f"{COMPARISON} (comparison) on the held-out half: {comparison}")
    result = {**primary, "model": PRIMARY, "comparison": {"approach": COMPARISON, **comparison}}
    if folds >= 2:
        result["inner_cv_qini"] = {PRIMARY: training_cv_qini(exp, parts, seed, folds, params)}
        log(f"{PRIMARY} {folds}-fold qini on the training half: {result['inner_cv_qini'][PRIMARY]}")
    return {**result, "seed": seed, "train_rows": len(parts[0]), "test_rows": len(parts[1])}
