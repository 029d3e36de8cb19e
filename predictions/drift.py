"""Population stability index (PSI) per feature and per score, one month against the month before.

PSI = sum over bins of (a - e) * ln(a / e), with bins cut at the reference month's deciles and empty bins
floored at a small share so that the logarithm stays finite. Above 0.2 a shift is usually considered
significant, so such features (and the score) are flagged on the Models tab.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from cartportal.access import MANAGE_MODELS, authorize
from cartportal.audit import record

from . import registry
from .models import DriftReport
from .scoring.features import all_customer_features

THRESHOLD = 0.2
BINS = 10
FLOOR = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float | None:
    """PSI of `current` against `reference`; None when either side is empty."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0:
        return None
    # bins (-inf, q0], (q0, q1], ..., (q_max, inf) at the reference's quantiles: a constant reference still
    # separates values above it
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    expected = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1) / len(reference)
    actual = np.bincount(np.searchsorted(edges, current, side="left"), minlength=len(edges) + 1) / len(current)
    expected, actual = np.clip(expected, FLOOR, None), np.clip(actual, FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def month_start(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def previous_month(month: dt.date) -> dt.date:
    return month_start(month - dt.timedelta(days=1))


def _end_of(month: dt.date) -> dt.datetime:
    following = month_start(month + dt.timedelta(days=32))
    return dt.datetime.combine(following, dt.time(), tzinfo=dt.UTC)


def drift_compute(*, actor, kind: str, month: dt.date) -> DriftReport:
    """Compare `month` with the month before: the features and the score of the active `kind` model when there is
    one. A model that says which population it scores (``drift_population``: the abandonment model's carts whose
    prediction point falls in the month) is compared on that; otherwise the customer population at each month's
    end. One report per kind and month (recomputed)."""
    authorize(actor, MANAGE_MODELS, what="drift report")
    month, reference = month_start(month), previous_month(month_start(month))
    version = registry.active_version(kind)
    scorer = registry.load_version(version) if version is not None else None
    current_frame, reference_frame = _populations(scorer, month, reference)
    numeric = [c for c in current_frame.columns if pd.api.types.is_numeric_dtype(current_frame[c])]
    features = [f for f in (version.features if version else []) if f in numeric]
    features = features or [c for c in numeric if c != "region_id"]
    feature_psi = {}
    for name in features:
        value = psi(reference_frame[name].to_numpy(), current_frame[name].to_numpy())
        if value is not None:
            feature_psi[name] = round(value, 4)
    score_psi = None
    if scorer is not None and len(current_frame) and len(reference_frame):
        score_psi = psi(_scores(scorer, reference_frame), _scores(scorer, current_frame))
        score_psi = None if score_psi is None else round(score_psi, 4)
    flagged = sorted(k for k, v in feature_psi.items() if v > THRESHOLD)
    if score_psi is not None and score_psi > THRESHOLD:
        flagged.append("score")
    with transaction.atomic():
        report, _ = DriftReport.objects.update_or_create(
            kind=kind,
            month=month,
            defaults={
                "model_version": version,
                "reference_month": reference,
                "feature_psi": feature_psi,
                "score_psi": score_psi,
                "threshold": THRESHOLD,
                "flagged": flagged,
                "rows_month": len(current_frame),
                "rows_reference": len(reference_frame),
            },
        )
        record(
            actor=actor,
            action="drift.computed",
            object_type="drift_report",
            object_id=report.pk,
            after={"kind": kind, "month": month.isoformat(), "flagged": flagged},
        )
    return report


def _populations(scorer, month: dt.date, reference: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    population = getattr(scorer, "drift_population", None)
    if population is not None:
        return (
            population(start=_start_of(month), end=_end_of(month)),
            population(start=_start_of(reference), end=_end_of(reference)),
        )
    # a scorer that reads its own customer features (the BTYD value model) offers them for the whole population
    read = getattr(scorer, "population_features", None)
    if read is not None:
        return read(as_of=_end_of(month)), read(as_of=_end_of(reference))
    current_frame = all_customer_features(as_of=_end_of(month))
    reference_frame = all_customer_features(as_of=_end_of(reference))
    return current_frame[current_frame["tenure_days"] >= 0], reference_frame[reference_frame["tenure_days"] >= 0]


def _scores(scorer, frame: pd.DataFrame) -> np.ndarray:
    predict = getattr(scorer, "predict", None)
    return np.asarray(predict(frame) if predict is not None else scorer.score(frame)["value"], float)


def _start_of(month: dt.date) -> dt.datetime:
    return dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)


def last_complete_month(now: dt.datetime | None = None) -> dt.date:
    return previous_month(month_start((now or timezone.now()).date()))
