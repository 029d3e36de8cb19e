"""What the API adds to a customer: abandonment risk, value forecast, segments and a plain-words explanation.

This is the composition layer: it reads the prediction and segmentation apps' published results. A customer
without a published score says so (`null`) rather than showing a made-up number. The reads take customer ids the
caller already sees (the queryset came through the caller's Scope), so nothing here widens the scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from predictions.abandonment.cart.live import score_cart
from predictions.models import Score, ScoringRun
from segments.models import CustomerProfile

RISK_KIND = "abandonment"
VALUE_KIND = "value"


RECENT_RUNS = 20


def _published_runs(kind: str) -> list:
    """The newest published runs of a kind, newest first. Runs may cover some regions only, so a customer's
    current score is the one from the newest published run that scored them."""
    published = ScoringRun.objects.filter(kind=kind, state=ScoringRun.State.PUBLISHED).select_related("model_version")
    return list(published.order_by("-published_at", "-pk")[:RECENT_RUNS])


def _scores(kind: str, scoped_customer_ids: list[int]) -> dict[int, tuple]:
    customer_ids = scoped_customer_ids
    runs = _published_runs(kind) if customer_ids else []
    if not runs:
        return {}

    rank = {run.pk: i for i, run in enumerate(runs)}
    by_pk = {run.pk: run for run in runs}
    best: dict[int, tuple] = {}
    for score in Score.objects.filter(run_id__in=list(rank), customer_id__in=customer_ids):
        current = best.get(score.customer_id)
        if current is None or rank[score.run_id] < rank[current[1].pk]:
            best[score.customer_id] = (score, by_pk[score.run_id])
    return best


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
        **_forecast_horizon(run),
    }


def _forecast_horizon(run) -> dict:
    """Over which horizon and by which model the value was forecast."""
    version = getattr(run, "model_version", None)
    holdout = (version.holdout or {}) if version is not None else {}
    return {
        "horizon_days": holdout.get("forecast_days") or holdout.get("horizon_days"),
        "model": getattr(version, "algorithm", None),
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


def score_live_cart(user, cart: dict, region) -> dict:
    """The cart abandonment model's live answer for an open cart (LookupError while no abandonment model is active);
    the customer is looked up in the caller's scope (a customer in a region the caller may not see is unknown)."""
    from cartportal.models import Customer

    return score_cart(cart, region=region, customers=Customer.objects.restrict(user, "view"))
