"""Uplift learners on CatBoost: the S-learner (one model, treatment as a feature; the primary model) and the
T-learner (a model per arm; the comparison).

Parameters are fixed, not tuned on any evaluation data: CatBoost's own defaults (1,000 iterations, depth 6,
learning rate chosen by CatBoost from the data size: about 0.038 for 21,000 rows). Iterations and depth are
stated below so that a CatBoost upgrade that changes its defaults does not silently change the model; the
learning rate is left out on purpose, because CatBoost only picks it automatically while l2_leaf_reg and the
learning rate themselves are unset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklift.models import SoloModel, TwoModels

PRIMARY = "s_learner"
COMPARISON = "t_learner"
APPROACHES = ("s_learner", "t_learner")
DEFAULT_PARAMS = {"iterations": 1000, "depth": 6}


def catboost(cat_features: list[str], seed: int, params: dict | None = None) -> CatBoostClassifier:
    return CatBoostClassifier(
        verbose=0,
        allow_writing_files=False,
        thread_count=2,
        random_seed=seed,
        cat_features=cat_features or None,
        **(DEFAULT_PARAMS if params is None else params),
    )


class UpliftLearner:
    """Fit on (X, y, t); `predict(X)` gives the estimated uplift P(y|t=1) - P(y|t=0)."""

    def __init__(self, approach: str, cat_features: list[str], seed: int = 42, params: dict | None = None):
        if approach not in APPROACHES:
            raise ValueError(f"unknown approach {approach!r}; choose one of {', '.join(APPROACHES)}")
        self.approach, self.cat_features, self.seed, self.params = approach, list(cat_features), seed, params
        self.model = None

    def _make(self):
        est = lambda: catboost(self.cat_features, self.seed, self.params)  # noqa: E731
        if self.approach == "s_learner":
            return SoloModel(est())
        return TwoModels(estimator_trmnt=est(), estimator_ctrl=est(), method="vanilla")

    def fit(self, X: pd.DataFrame, y: pd.Series, t: pd.Series) -> UpliftLearner:
        self.model = self._make().fit(X, y, t)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(X), dtype=float)
