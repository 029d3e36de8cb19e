"""What the API adds to a customer: abandonment risk, value forecast, segments and a plain-words explanation.

These read the prediction and segmentation apps when they are installed and have published results; a
customer without a published score says so (`null`) rather than showing a made-up number. The reads take the
customers the caller already sees (the queryset came through `restrict`), so nothing here widens the scope.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)

RISK_KIND = "abandonment"
VALUE_KIND = "value"


def _latest_published_run(kind: str):
    try:
        from predictions.models import ScoringRun
    except ImportError:
        return None
    try:
        return (
            ScoringRun.objects.filter(kind=kind, state="published")
            .order_by("-published_at", "-pk")
            .select_related("model_version")
            .first()
        )
    except Exception:  # a half-migrated predictions app must not take the API down
        logger.exception("could not read the latest %s scoring run", kind)
        return None


def _scores(kind: str, customer_ids: list[int]) -> dict[int, object]:
    run = _latest_published_run(kind)
    if run is None or not customer_ids:
        return {}
    from predictions.models import Score

    rows = Score.objects.filter(run=run, customer_id__in=customer_ids)
    return {row.customer_id: (row, run) for row in rows}


def _risk(entry) -> dict | None:
    if entry is None:
        return None
    score, run = entry
    drivers = score.contributions if isinstance(score.contributions, list) else []
    if isinstance(score.contributions, dict):
        drivers = [{"driver": k, "contribution": v} for k, v in score.contributions.items()]
    return {
        "probability": round(float(score.value), 6),
        "drivers": drivers,
        "model_version": getattr(run, "model_version_id", None),
        "scored_at": getattr(run, "published_at", None),
    }


def _value(entry) -> dict | None:
    if entry is None:
        return None
    score, run = entry
    extra = score.extra if isinstance(score.extra, dict) else {}
    return {
        "expected_spend": extra.get("expected_spend", float(score.value)),
        "p_active": extra.get("p_active"),
        "expected_purchases": extra.get("expected_purchases"),
        "model_version": getattr(run, "model_version_id", None),
        "scored_at": getattr(run, "published_at", None),
    }


def _segments(customer_ids: list[int]) -> dict[int, list[dict]]:
    try:
        from segments import selectors as segment_selectors
    except ImportError:
        return {}
    reader = getattr(segment_selectors, "segments_for_customers_unchecked", None)
    if reader is None or not customer_ids:
        return {}
    try:
        return reader(customer_ids)
    except Exception:
        logger.exception("could not read segment memberships")
        return {}


def _explanation(risk: dict | None, value: dict | None) -> str:
    if risk is None and value is None:
        return "Not scored yet: no published abandonment or value scores for this customer."
    parts = []
    if risk is not None:
        parts.append(f"Abandonment risk {risk['probability']:.0%}")
        named = [d for d in risk["drivers"] if isinstance(d, dict)]
        top = sorted(named, key=lambda d: -abs(float(d.get("contribution", d.get("value", 0)) or 0)))[:2]
        words = [str(d.get("sentence") or d.get("label") or d.get("driver") or "") for d in top]
        words = [w for w in words if w]
        if words:
            parts[-1] += ", mostly from " + " and ".join(words)
    if value is not None and value.get("expected_spend") is not None:
        parts.append(f"expected spend {float(value['expected_spend']):.2f} over the forecast horizon")
    return "; ".join(parts) + "."


def customer_insights(customer_ids: Iterable[int]) -> dict[int, dict]:
    """Risk, value, segments and explanation for customers the caller may already see."""
    ids = list(customer_ids)
    risks = _scores(RISK_KIND, ids)
    values = _scores(VALUE_KIND, ids)
    segments = _segments(ids)
    out = {}
    for cid in ids:
        risk = _risk(risks.get(cid))
        value = _value(values.get(cid))
        out[cid] = {
            "risk": risk,
            "value": value,
            "segments": segments.get(cid, []),
            "explanation": _explanation(risk, value),
        }
    return out


def score_live_session(session: dict) -> dict | None:
    """The abandonment model's live scoring, or None when no live scorer is installed."""
    try:
        from predictions.abandonment.live import score_live_session as live
    except ImportError:
        return None
    return live(session)
