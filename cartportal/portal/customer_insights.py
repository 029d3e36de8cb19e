"""What the API adds to a customer: abandonment risk, value forecast, segments and a plain-words explanation.

This is the composition layer: it reads the prediction and segmentation apps' published results. A customer
without a published score says so (`null`) rather than showing a made-up number. The reads take customer ids the
caller already sees (the queryset came through the caller's Scope), so nothing here widens the scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import SimpleNamespace

from django.db import connection
from django.db.models import F
from django.utils.dateparse import parse_datetime

from cartportal.access import Scope
from cartportal.models import Customer
from predictions.abandonment.cart.live import score_cart
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
        .order_by("customer_id", "run__kind", F("run__published_at").desc(nulls_last=True), "-run_id")
        .distinct("customer_id", "run__kind")
        .values_list(
            "customer_id",
            "run__kind",
            "value",
            "contributions",
            "extra",
            "run__model_version_id",
            "run__published_at",
            "run__model_version__holdout",
            "run__model_version__algorithm",
        )
    )
    # Plain tuples, not model instances: a page reads up to two rows per customer and building models costs more
    # than the query.
    for customer_id, kind, value, contributions, extra, version_id, published_at, holdout, algorithm in rows:
        score = SimpleNamespace(value=value, contributions=contributions, extra=extra)
        version = SimpleNamespace(holdout=holdout, algorithm=algorithm)
        run = SimpleNamespace(model_version_id=version_id, published_at=published_at, model_version=version)
        out[kind][customer_id] = (score, run)
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
    columns = [column for _, column in SEGMENT_COLUMNS]
    # plain columns, not model instances: a page reads fifty profiles and building models costs more than the query
    profiles = CustomerProfile.objects.filter(customer_id__in=scoped_customer_ids)
    out: dict[int, list[dict]] = {}
    for customer_id, dormant, *codes in profiles.values_list("customer_id", "dormant", *columns):
        named = zip((kind for kind, _ in SEGMENT_COLUMNS), codes, strict=True)
        items = [{"kind": kind, "code": str(code)} for kind, code in named if code]
        if dormant:
            items.append({"kind": "dormant", "code": "dormant"})
        out[customer_id] = items
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


_CURRENT_SCORE_SQL = """(
    SELECT json_build_object(
        'value', s.value, 'contributions', s.contributions, 'extra', s.extra,
        'model_version_id', r.model_version_id, 'published_at', r.published_at)
    FROM {score} s JOIN {run} r ON r.id = s.run_id
    WHERE s.customer_id = c.id AND r.kind = %s AND r.state = %s
    ORDER BY r.published_at DESC NULLS LAST, s.run_id DESC LIMIT 1)"""


def risk_lookup(scope: Scope, customer_id: int) -> dict | None:
    """The partner risk lookup in one query: the customer (within `scope`) with its current risk and value score.
    Written in SQL because it is the API's hottest read: the ORM's query building costs more than the query.
    None when the customer is missing or outside the scope (the caller answers both alike)."""
    where, params = scope.sql("c.region_id")
    current = _CURRENT_SCORE_SQL.format(score=Score._meta.db_table, run=ScoringRun._meta.db_table)
    sql = (
        f"SELECT c.id, c.external_id, {current} AS risk, {current} AS value "
        f"FROM {Customer._meta.db_table} c WHERE c.id = %s AND {where}"
    )
    published = ScoringRun.State.PUBLISHED
    with connection.cursor() as cursor:
        cursor.execute(sql, [RISK_KIND, published, VALUE_KIND, published, customer_id, *params])
        row = cursor.fetchone()
    if row is None:
        return None
    risk = _risk(_from_json(row[2]))
    value = _value(_from_json(row[3]))
    return {"id": row[0], "external_id": row[1], "risk": risk, "explanation": _explanation(risk, value)}


def _from_json(document) -> tuple | None:
    """A (score, run) pair from the JSON document of `_CURRENT_SCORE_SQL`, shaped as `_risk` and `_value` read it."""
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    if not isinstance(document, dict):
        return None
    published_at = document.get("published_at")
    score = SimpleNamespace(
        value=document["value"], contributions=document.get("contributions"), extra=document.get("extra")
    )
    run = SimpleNamespace(
        model_version_id=document.get("model_version_id"),
        published_at=parse_datetime(published_at) if isinstance(published_at, str) else published_at,
    )
    return score, run


def score_live_cart(user, cart: dict, region) -> dict:
    """The cart abandonment model's live answer for an open cart (LookupError while no abandonment model is active);
    the customer is looked up in the caller's scope (a customer in a region the caller may not see is unknown)."""
    from cartportal.models import Customer

    return score_cart(cart, region=region, customers=Customer.objects.restrict(user, "view"))
