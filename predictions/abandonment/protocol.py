"""The evaluation protocol of Sakar et al. (2018) for session purchase intention.

Repeated random 70/30 splits of a session table shaped like the UCI "Online Shoppers Purchasing
Intention" file. Everything that learns from data (feature scaling, the decision threshold, the blend
weights) only sees the training part of a split; the test part is touched once, for the metrics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cartportal.errors import AppError

NUMERIC = [
    "Administrative",
    "Administrative_Duration",
    "Informational",
    "Informational_Duration",
    "ProductRelated",
    "ProductRelated_Duration",
    "BounceRates",
    "ExitRates",
    "PageValues",
    "SpecialDay",
]
CATEGORICAL = ["Month", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType", "Weekend"]
LABEL = "Revenue"
TRUE_WORDS = {"true", "1", "yes", "y", "t", "1.0"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "0.0"}
MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
TNR_FLOOR = 0.92


class ProtocolError(AppError, ValueError):
    """The input file cannot be evaluated; the message says why."""


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


ALIASES = {
    "administrativepages": "Administrative",
    "administrativeduration": "Administrative_Duration",
    "informationalpages": "Informational",
    "productrelatedpages": "ProductRelated",
    "productpages": "ProductRelated",
    "productduration": "ProductRelated_Duration",
    "bouncerate": "BounceRates",
    "exitrate": "ExitRates",
    "pagevalue": "PageValues",
    "operatingsystem": "OperatingSystems",
    "os": "OperatingSystems",
    "trafficsource": "TrafficType",
    "visitor": "VisitorType",
    "isweekend": "Weekend",
    "purchase": "Revenue",
    "purchased": "Revenue",
    "converted": "Revenue",
    "label": "Revenue",
}


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename columns spelled differently (case, underscores, spaces, common synonyms) to the canonical names."""
    canonical = {_key(c): c for c in NUMERIC + CATEGORICAL + [LABEL]}
    canonical.update(ALIASES)
    renames = {}
    for column in frame.columns:
        target = canonical.get(_key(column))
        if target and target not in renames.values():
            renames[column] = target
    frame = frame.rename(columns=renames)
    missing = [c for c in NUMERIC + CATEGORICAL + [LABEL] if c not in frame.columns]
    if missing:
        raise ProtocolError(f"missing column(s): {', '.join(missing)}")
    return frame


def parse_label(values: pd.Series) -> np.ndarray:
    words = values.astype(str).str.strip().str.lower()
    bad = ~words.isin(TRUE_WORDS | FALSE_WORDS)
    if bad.any():
        first = values[bad].iloc[0]
        raise ProtocolError(f"{int(bad.sum())} label value(s) are not TRUE/FALSE/1/0/yes/no, e.g. {first!r}")
    return words.isin(TRUE_WORDS).to_numpy(dtype=int)


def load_sessions(path) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV session table (any delimiter) and return (raw features, 0/1 purchase label)."""
    try:
        frame = pd.read_csv(path, sep=None, engine="python")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ProtocolError(f"cannot read {path}: {exc}") from exc
    frame = normalise_columns(frame)
    labels = parse_label(frame[LABEL])
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if frame[NUMERIC].isna().all(axis=None) or len(frame) < 50:
        raise ProtocolError("too few usable rows to evaluate (need at least 50)")
    if labels.sum() < 10 or (1 - labels).sum() < 10:
        raise ProtocolError("need at least 10 sessions with and 10 without a purchase")
    return frame[NUMERIC + CATEGORICAL].copy(), labels


def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    """Derived features: page-value flag and logs, per-page durations, ratios, month order, visitor x month."""
    out = pd.DataFrame(index=frame.index)
    for column in NUMERIC:
        out[column] = frame[column].fillna(0).clip(lower=0)
    out["has_page_value"] = (out["PageValues"] > 0).astype(int)
    out["log_page_value"] = np.log1p(out["PageValues"])
    for column in ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]:
        out["log_" + column] = np.log1p(out[column])
    pages = out["Administrative"] + out["Informational"] + out["ProductRelated"]
    seconds = out["Administrative_Duration"] + out["Informational_Duration"] + out["ProductRelated_Duration"]
    out["total_pages"] = pages
    out["log_total_seconds"] = np.log1p(seconds)
    out["product_share"] = out["ProductRelated"] / pages.replace(0, np.nan)
    out["seconds_per_product_page"] = out["ProductRelated_Duration"] / out["ProductRelated"].replace(0, np.nan)
    out["page_value_per_product_page"] = out["PageValues"] / out["ProductRelated"].replace(0, np.nan)
    out["exit_minus_bounce"] = out["ExitRates"] - out["BounceRates"]
    out = out.fillna(0)
    month = frame["Month"].astype(str).str.strip().str[:3].str.lower()
    out["month_number"] = month.map(MONTHS).fillna(-1).astype(int)
    for column in CATEGORICAL:
        out[column] = frame[column].astype(str).str.strip().str.lower()
    out["visitor_month"] = out["VisitorType"] + "_" + out["Month"]
    return out


CAT_COLUMNS = CATEGORICAL + ["visitor_month"]


@dataclass
class Metrics:
    accuracy: float
    tpr: float
    tnr: float
    f1: float
    roc_auc: float
    tpr_at_tnr92: float


def tpr_at_tnr(y_true: np.ndarray, scores: np.ndarray, floor: float = TNR_FLOOR) -> float:
    """The highest TPR over thresholds whose TNR is at least ``floor`` (i.e. FPR <= 1 - floor)."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    allowed = fpr <= 1 - floor + 1e-12
    return float(tpr[allowed].max())


def metrics_at(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> Metrics:
    predicted = (scores >= threshold).astype(int)
    positives = y_true == 1
    return Metrics(
        accuracy=float((predicted == y_true).mean()),
        tpr=float(predicted[positives].mean()),
        tnr=float(1 - predicted[~positives].mean()),
        f1=float(f1_score(y_true, predicted)),
        roc_auc=float(roc_auc_score(y_true, scores)),
        tpr_at_tnr92=tpr_at_tnr(y_true, scores),
    )


def best_accuracy_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    order = np.argsort(-scores)
    sorted_scores, sorted_truth = scores[order], y_true[order]
    # predicting the top k as positive: correct = positives among top k + negatives after k
    hits = np.concatenate([[0], np.cumsum(sorted_truth)])
    negatives_after = (len(y_true) - y_true.sum()) - (np.arange(len(y_true) + 1) - hits)
    correct = hits + negatives_after
    k = int(np.argmax(correct))
    if k == 0:
        return float(sorted_scores[0] + 1e-9)
    if k == len(y_true):
        return float(sorted_scores[-1])
    return float((sorted_scores[k - 1] + sorted_scores[k]) / 2)


def catboost_model(seed: int, iterations: int) -> CatBoostClassifier:
    return CatBoostClassifier(
        iterations=iterations,
        learning_rate=0.03,
        depth=6,
        l2_leaf_reg=5,
        random_seed=seed,
        thread_count=2,
        allow_writing_files=False,
        verbose=False,
    )


def logistic_model() -> object:
    numeric = [c for c in ENGINEERED_NUMERIC]
    transform = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CAT_COLUMNS),
        ]
    )
    return make_pipeline(transform, LogisticRegression(C=0.5, max_iter=2000))


ENGINEERED_NUMERIC: list[str] = []


class BlendModel:
    """CatBoost and a logistic-regression baseline averaged with a weight chosen out of fold on the training part."""

    def __init__(self, seed: int, iterations: int = 600, folds: int = 3):
        self.seed, self.iterations, self.folds = seed, iterations, folds

    def fit(self, features: pd.DataFrame, labels: np.ndarray) -> BlendModel:
        oof_cat, oof_lr = np.zeros(len(labels)), np.zeros(len(labels))
        splitter = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        for fit_idx, val_idx in splitter.split(features, labels):
            cat, lr = self._fit_pair(features.iloc[fit_idx], labels[fit_idx])
            oof_cat[val_idx] = cat.predict_proba(features.iloc[val_idx])[:, 1]
            oof_lr[val_idx] = lr.predict_proba(features.iloc[val_idx])[:, 1]
        self.weight = max(np.linspace(0, 1, 11), key=lambda w: roc_auc_score(labels, w * oof_cat + (1 - w) * oof_lr))
        blended = self.weight * oof_cat + (1 - self.weight) * oof_lr
        self.threshold = best_accuracy_threshold(labels, blended)
        self.catboost, self.logistic = self._fit_pair(features, labels)
        return self

    def _fit_pair(self, features: pd.DataFrame, labels: np.ndarray):
        cat = catboost_model(self.seed, self.iterations)
        cat.fit(features, labels, cat_features=CAT_COLUMNS)
        lr = logistic_model().fit(features, labels)
        return cat, lr

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        cat = self.catboost.predict_proba(features)[:, 1]
        lr = self.logistic.predict_proba(features)[:, 1]
        return self.weight * cat + (1 - self.weight) * lr


def run(path, repeats: int = 5, *, iterations: int = 600, progress=None) -> dict:
    """Run the protocol and return the averaged metrics (plus per-repeat detail)."""
    if repeats < 1:
        raise ProtocolError("--repeats must be at least 1")
    raw, labels = load_sessions(path)
    features = engineer(raw)
    ENGINEERED_NUMERIC[:] = [c for c in features.columns if c not in CAT_COLUMNS]
    per_repeat = []
    for seed in range(repeats):
        train_x, test_x, train_y, test_y = train_test_split(
            features, labels, test_size=0.3, random_state=seed, stratify=labels
        )
        model = BlendModel(seed=seed, iterations=iterations).fit(train_x, train_y)
        scores = model.predict_proba(test_x)
        per_repeat.append(metrics_at(test_y, scores, model.threshold))
        if progress:
            progress(seed + 1, repeats, per_repeat[-1])
    averaged = {key: round(float(np.mean([getattr(m, key) for m in per_repeat])), 4) for key in Metrics.__annotations__}
    return {"protocol": "sakar2018", "repeats": repeats, "rows": int(len(labels)), **averaged}


def to_json_line(result: dict) -> str:
    return json.dumps(result, sort_keys=False)
