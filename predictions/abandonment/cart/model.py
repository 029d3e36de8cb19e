"""The cart abandonment model: CatBoost with a logistic-regression baseline, split by time, calibrated.

Carts are ordered by their prediction point: the earliest 60 % train, the next 15 % calibrate (isotonic on
CatBoost's raw score), the latest 25 % are the holdout every metric (and the baseline's) is reported on, with a
reliability table. The final model is refitted on train + calibration with the same settings.
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
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cartportal.errors import AppError
from predictions.abandonment.cart import explain, features, proposals
from predictions.abandonment.cart.features import CATEGORICAL, DRIVERS, FEATURES, NUMERIC

MIN_CARTS, MIN_CLASS = 200, 30


class TrainingError(AppError, ValueError):
    """Not enough carts with a known outcome to train or evaluate; the message says why."""


def catboost_classifier(seed: int = 0, iterations: int = 400) -> CatBoostClassifier:
    # no files: CatBoost would otherwise write catboost_info/ into the working directory
    return CatBoostClassifier(
        iterations=iterations,
        learning_rate=0.05,
        # shallow, well-regularised trees: a shop's labelled carts are often a few thousand
        depth=3,
        l2_leaf_reg=10,
        random_seed=seed,
        thread_count=2,
        allow_writing_files=False,
        verbose=False,
    )


def matrix(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[FEATURES].copy()
    for name in CATEGORICAL:
        out[name] = out[name].astype(str)
    out[NUMERIC] = out[NUMERIC].astype(float)
    return out


def logistic_baseline():
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    transform = ColumnTransformer(
        [("num", numeric, NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=10), CATEGORICAL)]
    )
    return make_pipeline(transform, LogisticRegression(C=0.5, max_iter=3000))


def scores(y: np.ndarray, p: np.ndarray) -> dict:
    """Holdout metrics of abandonment probabilities ``p`` against outcomes ``y`` (1 = abandoned)."""
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    top = np.argsort(-p, kind="stable")[: max(1, len(p) // 10)]
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "top_decile_lift": round(float(y[top].mean() / max(y.mean(), 1e-9)), 4),
        "mean_predicted": round(float(p.mean()), 4),
        "observed_rate": round(float(y.mean()), 4),
    }


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted against observed abandonment per tenth of the probability range (empty bins left out)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            table.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "carts": int(inside.sum()),
                    "predicted": round(float(p[inside].mean()), 4),
                    "observed": round(float(y[inside].mean()), 4),
                }
            )
    return table


@dataclass
class CartAbandonmentModel:
    seed: int = 0
    iterations: int = 400
    metrics: dict = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame) -> CartAbandonmentModel:
        labelled = frame[frame["abandoned"].notna()].sort_values(["t"], kind="stable")
        y = labelled["abandoned"].to_numpy(int)
        if len(labelled) < MIN_CARTS or min(y.sum(), len(y) - y.sum()) < MIN_CLASS:
            raise TrainingError(
                f"need at least {MIN_CARTS} carts whose outcome is known, {MIN_CLASS} bought and {MIN_CLASS} "
                f"abandoned (found {len(labelled)}: {len(y) - y.sum()} bought, {y.sum()} abandoned)"
            )
        n = len(labelled)
        train, calibrate, holdout = (
            np.arange(int(n * 0.6)),
            np.arange(int(n * 0.6), int(n * 0.75)),
            np.arange(int(n * 0.75), n),
        )
        x = matrix(labelled)
        cat = catboost_classifier(self.seed, self.iterations).fit(x.iloc[train], y[train], cat_features=CATEGORICAL)
        calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            cat.predict_proba(x.iloc[calibrate])[:, 1], y[calibrate]
        )
        fitted = np.concatenate([train, calibrate])
        baseline = logistic_baseline().fit(x.iloc[fitted], y[fitted])
        calibrated = calibrator.predict(cat.predict_proba(x.iloc[holdout])[:, 1])
        self.metrics = {
            "holdout_rows": int(len(holdout)),
            "holdout_from": labelled["t"].iloc[holdout[0]].isoformat() if len(holdout) else None,
            "catboost": scores(y[holdout], calibrated),
            "logistic_baseline": scores(y[holdout], baseline.predict_proba(x.iloc[holdout])[:, 1]),
            "reliability": reliability(y[holdout], calibrated),
        }
        self.holdout_ids = labelled.index[holdout].tolist()
        self.catboost = catboost_classifier(self.seed, self.iterations).fit(
            x.iloc[fitted], y[fitted], cat_features=CATEGORICAL
        )
        self.calibrator = calibrator
        self.features = list(FEATURES)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability that each cart is not bought within the recovery window."""
        if frame.empty:
            return np.array([])
        return self.calibrator.predict(self.catboost.predict_proba(matrix(frame))[:, 1])

    def shap_values(self, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Per-feature contributions (log-odds of abandoning) and the expected value."""
        values = self.catboost.get_feature_importance(
            Pool(matrix(frame), cat_features=CATEGORICAL), type="ShapValues", thread_count=2
        )
        return values[:, :-1], float(values[0, -1]) if len(values) else 0.0

    def driver_log_odds(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self._by_driver(self.shap_values(frame)[0], frame.index)

    @staticmethod
    def _by_driver(shap: np.ndarray, index: pd.Index) -> pd.DataFrame:
        position = {name: i for i, name in enumerate(FEATURES)}
        return pd.DataFrame(
            {d: shap[:, [position[n] for n in names]].sum(axis=1) for d, names in DRIVERS.items()}, index=index
        )

    def explain(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[list[dict]]]:
        """Probabilities and, per cart, every driver with its effect and its concrete sentence (strongest first).
        The raw score is the SHAP values' sum (exact for CatBoost), so the model is evaluated once."""
        shap, expected = self.shap_values(frame)
        raw = 1.0 / (1.0 + np.exp(-(expected + shap.sum(axis=1))))
        probability = self.calibrator.predict(raw)
        return probability, explain.drivers(probability, self._by_driver(shap, frame.index), frame)

    # The rescoring pipeline's scorer interface (see predictions/scoring/scorers.py): one row per customer with
    # an open cart (their latest), the risk at the cart's latest change, its drivers and its value.
    def chunk_features(self, *, region_id: int, id_from: int, id_to: int, as_of) -> pd.DataFrame:
        from predictions.abandonment.cart import carts

        return carts.open_carts_of_customers(region_id=region_id, id_from=id_from, id_to=id_to, as_of=as_of)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame({"value": [], "session_id": [], "contributions": []}, index=frame.index)
        probability, drivers = self.explain(frame)
        value = frame["cart_value"].to_numpy(float)
        top = [explain.top_driver(row) for row in drivers]
        return pd.DataFrame(
            {
                "value": probability,
                "session_id": frame["session_id"].to_numpy(),
                "contributions": [{d["driver"]: d["log_odds"] for d in row} for row in drivers],
                "cart_value": np.round(value, 2),
                "expected_loss": np.round(probability * value, 2),
                "reasons": [explain.top_reasons(row) for row in drivers],
                "prediction_point": frame["prediction_point"].to_numpy(),
                "top_driver": top,
                "intervention": [
                    proposals.propose({"top_driver": driver, "customer_id": customer, "low_rated_items": low})
                    for driver, customer, low in zip(
                        top, _ids(frame["customer_id"]), frame["low_rated_items"], strict=True
                    )
                ],
            },
            index=frame.index,
        )

    def drift_population(self, *, start, end) -> pd.DataFrame:
        """Features of the carts whose prediction point falls in [start, end), for the monthly drift report."""
        from predictions.abandonment.cart import carts

        return carts.features_between(start=start, end=end)


def _ids(values: pd.Series) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in values]


__all__ = ["CartAbandonmentModel", "TrainingError", "features"]
