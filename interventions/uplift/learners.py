"""Uplift learners on CatBoost: S-learner (one model, treatment as a feature), T-learner (a model per
arm) and class transformation (one classifier on the transformed target, Jaszewska & Rzepakowski)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from scipy.stats import rankdata
from sklift.models import ClassTransformation, SoloModel, TwoModels


@dataclass(frozen=True)
class LearnerSpec:
    name: str
    approach: str  # "s_learner" | "t_learner" | "class_transformation" | "s_t_rank_mean"
    params: dict = field(default_factory=dict)


CANDIDATES = [
    LearnerSpec("s_learner_default", "s_learner", {}),
    LearnerSpec("s_learner_shallow", "s_learner", {"depth": 4, "iterations": 600, "learning_rate": 0.05}),
    LearnerSpec("s_learner_regularised", "s_learner", {"depth": 6, "l2_leaf_reg": 10, "iterations": 800}),
]
COMPARISON = LearnerSpec("class_transformation", "class_transformation", {})


def catboost(params: dict, cat_features: list[str], seed: int) -> CatBoostClassifier:
    return CatBoostClassifier(
        verbose=0,
        allow_writing_files=False,
        thread_count=2,
        random_seed=seed,
        cat_features=cat_features or None,
        **params,
    )


class UpliftLearner:
    """Fit on (X, y, t); `predict(X)` gives the estimated uplift P(y|t=1) - P(y|t=0) (or a score that ranks
    like it, for class transformation)."""

    def __init__(self, spec: LearnerSpec, cat_features: list[str], seed: int = 42):
        self.spec, self.cat_features, self.seed = spec, list(cat_features), seed
        self.parts: list = []

    def _make(self, approach: str):
        est = lambda: catboost(self.spec.params, self.cat_features, self.seed)  # noqa: E731
        if approach == "s_learner":
            return SoloModel(est())
        if approach == "t_learner":
            return TwoModels(estimator_trmnt=est(), estimator_ctrl=est(), method="vanilla")
        if approach == "class_transformation":
            return ClassTransformation(est())
        raise ValueError(f"unknown approach {approach!r}")

    def fit(self, X: pd.DataFrame, y: pd.Series, t: pd.Series) -> UpliftLearner:
        approaches = ["s_learner", "t_learner"] if self.spec.approach == "s_t_rank_mean" else [self.spec.approach]
        self.parts = [self._make(a).fit(X, y, t) for a in approaches]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        preds = [np.asarray(p.predict(X), dtype=float) for p in self.parts]
        if len(preds) == 1:
            return preds[0]
        return np.mean([rankdata(p) / len(p) for p in preds], axis=0)
