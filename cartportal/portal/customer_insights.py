"""What the API adds to a customer: abandonment risk, value forecast, segments and a plain-words explanation.

This is the composition layer: it reads the prediction and segmentation apps' published results. A customer
without a published score says so (`null`) rather than showing a made-up number. The reads take customer ids the
caller already sees (the queryset came through the caller's Scope), so nothing here widens the scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

from predictions.abandonment.live import score_live_session as live_score
from predictions.models import Score, ScoringRun
from segments.models import CustomerProfile

RISK_KIND = "abandonment"
VALUE_KIND = "value"


def _current_scores(kinds: tuple[str, ...], scoped_customer_ids: list[int]) -> dict[str, dict[int, tuple]]:
    """Each customer's current score per kind: the one from the newest published run that scored them (runs may
    cover some regions only). One indexed read for all kinds: the scores' customer index finds each customer's
    few rows, DISTINCT ON keeps the newest published one per (customer, kind); no scan of recent runs."""
    out: dict[str, dict[int, tuple]] = {kind: {} for kind in kinds}
    if not scoped_customer_ids:
        return out
    rows = (
        Score.objects.filter(
            customer_id__in=scoped_customer_ids, run__kind__in=kinds, run__state=ScoringRun.State.PUBLISHED
        )
        .select_related("run")
        .order_by("customer_id", "run__kind", F("run__published_at").desc(nulls_last=True), "-run_id")
        .distinct("customer_id", "run__kind")
    )
    for score in rows:
        out[score.run.kind][score.customer_id] = (score, score.run)
    return out


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


SEGMENT_COLUMNS = (("rfm", "rfm_segment"), ("value_group", "value_group"), ("persona", "persona"))


def _segments(scoped_customer_ids: list[int]) -> dict[int, list[dict]]:
    """The customers' current segments from the segmentation app's customer profiles."""
    if not scoped_customer_ids:
        return {}
    profiles = list(CustomerProfile.objects.filter(customer_id__in=scoped_customer_ids))
    out: dict[int, list[dict]] = {}
    for profile in profiles:
        items = [
            {"kind": kind, "code": str(getattr(profile, column, "") or "")}
            for kind, column in SEGMENT_COLUMNS
            if getattr(profile, column, "")
        ]
        if getattr(profile, "dormant", False):
            items.append({"kind": "dormant", "code": "dormant"})
        out[profile.customer_id] = items
    return out


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


def customer_insights(scoped_customer_ids: Iterable[int]) -> dict[int, dict]:
    """Risk, value, segments and explanation for customers the caller already sees (ids that came through a Scope)."""
    ids = list(scoped_customer_ids)
    scores = _current_scores((RISK_KIND, VALUE_KIND), ids)
    risks, values = scores[RISK_KIND], scores[VALUE_KIND]
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


def customer_risk(scoped_customer_id: int) -> dict:
    """The risk lookup's answer for one customer the caller already sees: risk and explanation from one read of
    the current scores (no segments)."""
    scores = _current_scores((RISK_KIND, VALUE_KIND), [scoped_customer_id])
    risk = _risk(scores[RISK_KIND].get(scoped_customer_id))
    value = _value(scores[VALUE_KIND].get(scoped_customer_id))
    return {"risk": risk, "explanation": _explanation(risk, value)}


def score_live_session(session: dict) -> dict:
    """The abandonment model's live scoring (LookupError while no abandonment model is active)."""
    return live_score(session)
