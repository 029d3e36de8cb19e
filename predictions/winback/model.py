"""The win-back model: chosen and fitted on the previous window only, then ranks the current window's dormant
customers by return probability and by expected value (probability x predicted spend when they return).

Candidates are logistic regressions on feature groups (RFM and tenure, alone and with each further group, and
all of them) at three regularisation strengths, and CatBoost on every feature. The one with the best top-share
lift in repeated stratified 5-fold cross-validation *inside the training window* is refitted on the whole
training window; the evaluated window plays no part in the choice."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from predictions.value.transactions import TransactionError
from predictions.winback import features as wf

STRENGTHS = (0.05, 0.3, 1.0)
CV_REPEATS = 4
MIN_RETURNERS = 10


@dataclass(frozen=True)
class Candidate:
    algorithm: str  # "logistic" or "catboost"
    groups: tuple[str, ...]
    strength: float = 1.0

    @property
    def name(self) -> str:
        detail = f" C={self.strength}" if self.algorithm == "logistic" else ""
        return f"{self.algorithm}{detail} on {'+'.join(self.groups)}"

    def columns(self) -> list[str]:
        return [c for g in self.groups for c in wf.GROUPS[g]]

    def estimator(self):
        if self.algorithm == "catboost":
            return CatBoostClassifier(
                iterations=300,
                depth=3,
                learning_rate=0.03,
                l2_leaf_reg=10,
                random_seed=0,
                verbose=0,
                thread_count=2,
                allow_writing_files=False,
            )
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.strength, max_iter=3000))


@dataclass
class FittedModel:
    candidate: Candidate
    classifier: object
    spend: object | None
    selection: dict = field(default_factory=dict)

    def probability(self, features: pd.DataFrame) -> np.ndarray:
        return self.classifier.predict_proba(wf.numeric(features, self.candidate.columns()))[:, 1]

    def predicted_spend(self, features: pd.DataFrame) -> np.ndarray:
        """Spend if they return: a ridge regression on the log scale, or their mean order without enough data."""
        fallback = (features["spend"] / features["invoices"].clip(lower=1)).to_numpy()
        if self.spend is None:
            return fallback
        return np.expm1(self.spend.predict(wf.numeric(features, SPEND_COLUMNS))).clip(min=0)


SPEND_COLUMNS = ["spend", "invoices", "max_order", "spend_base", "median_price", "median_quantity", "items"]


def candidates(groups: dict[str, list[str]]) -> list[Candidate]:
    extra = [g for g in groups if g != "rfm"]
    sets = [("rfm",)] + [("rfm", g) for g in extra] + ([("rfm", *extra)] if len(extra) > 1 else [])
    found = [Candidate("logistic", s, c) for s in sets for c in STRENGTHS]
    return found + [Candidate("catboost", ("rfm", *extra))]


def top_lift(returned: np.ndarray, score: np.ndarray, share: float) -> float:
    """Return rate of the top ``share`` by score over the rate of everyone (1.0 = no better than random)."""
    top = top_count(len(score), share)
    rate = returned.mean()
    return float(returned[np.argsort(-score, kind="stable")[:top]].mean() / rate) if rate > 0 else 0.0


def top_count(size: int, share: float) -> int:
    return max(1, int(round(size * share)))


def cross_validated_lift(candidate: Candidate, features: pd.DataFrame, returned: np.ndarray, share: float) -> float:
    matrix = wf.numeric(features, candidate.columns())
    repeats = 1 if candidate.algorithm == "catboost" else CV_REPEATS
    lifts = []
    for seed in range(repeats):
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(matrix, returned):
            model = candidate.estimator().fit(matrix[train], returned[train])
            lifts.append(top_lift(returned[test], model.predict_proba(matrix[test])[:, 1], share))
    return float(np.mean(lifts))


def _check_trainable(returned: np.ndarray, window: wf.Window) -> None:
    if len(returned) < 50 or returned.sum() < MIN_RETURNERS or returned.sum() > len(returned) - MIN_RETURNERS:
        raise TransactionError(
            f"the training window ({window.label()}) has {len(returned)} dormant customers of whom "
            f"{int(returned.sum())} came back; at least 50 customers and {MIN_RETURNERS} of each outcome are needed "
            "(give an earlier --base-start or longer --months, or load more history)"
        )


def fit(lines: pd.DataFrame, window: wf.Window, *, share: float, activity: pd.DataFrame | None = None) -> FittedModel:
    """Choose and fit the model on ``window`` (the window whose target period has already been observed)."""
    features = wf.window_features(lines, window, activity)
    outcome = wf.outcome(lines, features.index, window)
    returned = outcome["returned"].to_numpy()
    _check_trainable(returned, window)
    scored = {c: cross_validated_lift(c, features, returned, share) for c in candidates(wf.available_groups(features))}
    best = max(scored, key=lambda c: (scored[c], -len(c.columns())))
    classifier = best.estimator().fit(wf.numeric(features, best.columns()), returned)
    selection = {
        "chosen_by": f"top-{share:.0%} lift, repeated 5-fold cross-validation in the training window",
        "cv_lift": round(scored[best], 3),
        "candidates": len(scored),
        "training_window": window.describe(),
        "training_dormant": int(len(returned)),
        "training_base_rate": round(float(returned.mean()), 3),
    }
    return FittedModel(best, classifier, _fit_spend(features, outcome), selection)


def _fit_spend(features: pd.DataFrame, outcome: pd.DataFrame):
    came_back = outcome["returned"].to_numpy() == 1
    if came_back.sum() < MIN_RETURNERS:
        return None
    matrix = wf.numeric(features[came_back], SPEND_COLUMNS)
    return make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(matrix, np.log1p(outcome["spend"][came_back]))


def rank(model: FittedModel, features: pd.DataFrame) -> pd.DataFrame:
    """The dormant customers ranked by return probability, with the expected value beside it."""
    probability = model.probability(features)
    spend = model.predicted_spend(features)
    ranked = pd.DataFrame(
        {
            "probability": probability,
            "predicted_spend": spend,
            "expected_value": probability * spend,
            "days_since_last": features["days_since_last"].to_numpy(),
            "invoices": features["invoices"].to_numpy(),
            "past_spend": features["spend"].to_numpy(),
        },
        index=features.index,
    )
    return ranked.sort_values(["probability", "expected_value"], ascending=False, kind="stable")


def evaluate(lines: pd.DataFrame, window: wf.Window, *, share: float = 0.2, activity=None) -> dict:
    """Fit on the previous window, rank ``window``'s dormant customers, compare the top share with random."""
    model = fit(lines, window.previous(), share=share, activity=activity)
    features = wf.window_features(lines, window, activity)
    outcome = wf.outcome(lines, features.index, window)
    ranked = rank(model, features).join(outcome.rename(columns={"spend": "target_spend"}))
    top = top_count(len(ranked), share)
    base_rate = float(outcome["returned"].mean())
    top_rate = float(ranked["returned"].iloc[:top].mean())
    by_value = ranked.sort_values("expected_value", ascending=False, kind="stable")
    return {
        "dormant": int(len(ranked)),
        "base_rate": round(base_rate, 3),
        "top_rate": round(top_rate, 3),
        "lift": round(top_rate / base_rate, 2) if base_rate > 0 else None,
        "revenue_top": round(float(by_value["target_spend"].iloc[:top].sum()), 2),
        "revenue_random": round(float(outcome["spend"].sum()) * top / len(ranked), 2),
        "revenue_top_by_probability": round(float(ranked["target_spend"].iloc[:top].sum()), 2),
        "top": top,
        "window": window.describe(),
        "model": model.candidate.name,
        "selection": model.selection,
    }
