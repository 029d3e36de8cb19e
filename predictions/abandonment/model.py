"""The abandonment model: CatBoost with a logistic-regression baseline, a time-based holdout and calibration.

Sessions are ordered by time (start time, or month when that is all there is); the earliest 60 % train,
the next 15 % calibrate (isotonic on CatBoost's raw score), the latest 25 % are the holdout every metric is
reported on. The final model is refitted on train + calibration with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, Pool
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cartportal.errors import AppError
from predictions.abandonment.features import CATEGORICAL, DRIVERS, FEATURES, NUMERIC, latest_session_per_customer


class TrainingError(AppError, ValueError):
    """Not enough labelled sessions to train or evaluate; the message says why."""


def time_order(frame: pd.DataFrame) -> np.ndarray:
    started = pd.to_datetime(frame.get("started_at"), utc=True, errors="coerce")
    month = pd.to_numeric(frame.get("month"), errors="coerce").fillna(0)
    key = pd.DataFrame({"month": month.to_numpy(), "started": started.to_numpy(), "id": frame.index.to_numpy()})
    return key.sort_values(["started", "month", "id"], na_position="first").index.to_numpy()


def matrix(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[FEATURES].copy()
    for name in CATEGORICAL:
        out[name] = out[name].astype(str)
    out[NUMERIC] = out[NUMERIC].astype(float)
    return out


def catboost_classifier(seed: int = 0, iterations: int = 400) -> CatBoostClassifier:
    return CatBoostClassifier(
        iterations=iterations,
        learning_rate=0.05,
        depth=6,
        l2_leaf_reg=5,
        random_seed=seed,
        thread_count=2,
        allow_writing_files=False,
        verbose=False,
    )


def logistic_baseline():
    transform = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=10), CATEGORICAL),
        ]
    )
    return make_pipeline(transform, LogisticRegression(C=0.5, max_iter=3000))


def _scores(y: np.ndarray, p: np.ndarray) -> dict:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "log_loss": round(float(log_loss(y, p)), 4),
        "mean_predicted": round(float(p.mean()), 4),
        "observed_rate": round(float(y.mean()), 4),
    }


@dataclass
class AbandonmentModel:
    seed: int = 0
    iterations: int = 400
    metrics: dict = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame) -> AbandonmentModel:
        labelled = frame[frame["abandoned"].notna()]
        y_all = labelled["abandoned"].to_numpy(int)
        if len(labelled) < 200 or min(y_all.sum(), len(y_all) - y_all.sum()) < 30:
            raise TrainingError("need at least 200 finished sessions with 30 purchases and 30 abandonments")
        order = time_order(labelled)
        n = len(order)
        train, calibrate, holdout = order[: int(n * 0.6)], order[int(n * 0.6) : int(n * 0.75)], order[int(n * 0.75) :]
        x, y = matrix(labelled), y_all
        cat = catboost_classifier(self.seed, self.iterations).fit(x.iloc[train], y[train], cat_features=CATEGORICAL)
        calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            cat.predict_proba(x.iloc[calibrate])[:, 1], y[calibrate]
        )
        baseline = logistic_baseline().fit(
            x.iloc[np.concatenate([train, calibrate])], y[np.concatenate([train, calibrate])]
        )
        raw = cat.predict_proba(x.iloc[holdout])[:, 1]
        self.metrics = {
            "holdout_rows": int(len(holdout)),
            "catboost": _scores(y[holdout], calibrator.predict(raw)),
            "catboost_uncalibrated": _scores(y[holdout], raw),
            "logistic_baseline": _scores(y[holdout], baseline.predict_proba(x.iloc[holdout])[:, 1]),
        }
        self.holdout_ids = labelled.index[holdout].tolist()
        fit_rows = np.concatenate([train, calibrate])
        self.catboost = catboost_classifier(self.seed, self.iterations).fit(
            x.iloc[fit_rows], y[fit_rows], cat_features=CATEGORICAL
        )
        self.calibrator = calibrator
        self.features = list(FEATURES)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability that each session ends without a purchase."""
        raw = self.catboost.predict_proba(matrix(frame))[:, 1]
        return self.calibrator.predict(raw)

    def shap_values(self, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Per-feature contributions (log-odds of abandoning) and the expected value."""
        values = self.catboost.get_feature_importance(
            Pool(matrix(frame), cat_features=CATEGORICAL), type="ShapValues", thread_count=2
        )
        return values[:, :-1], float(values[0, -1]) if len(values) else 0.0

    # The rescoring pipeline's scorer interface (see predictions/scoring/scorers.py): per customer, the risk of
    # their latest session with its friction drivers (log-odds per driver) as the stored contributions.
    def chunk_features(self, *, region_id: int, id_from: int, id_to: int, as_of) -> pd.DataFrame:
        return latest_session_per_customer(region_id=region_id, id_from=id_from, id_to=id_to, as_of=as_of)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame({"value": [], "session_id": [], "contributions": []}, index=frame.index)
        shap, _expected = self.shap_values(frame)
        position = {name: i for i, name in enumerate(FEATURES)}
        by_driver = {driver: shap[:, [position[n] for n in names]].sum(axis=1) for driver, names in DRIVERS.items()}
        contributions = [
            {driver: round(float(values[i]), 4) for driver, values in by_driver.items()} for i in range(len(frame))
        ]
        return pd.DataFrame(
            {
                "value": self.predict(frame),
                "session_id": frame["session_id"].to_numpy(),
                "contributions": contributions,
            },
            index=frame.index,
        )
