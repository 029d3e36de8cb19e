"""What the API adds to a customer: abandonment risk, value forecast, segments and a plain-words explanation.

This is the composition layer: it reads the prediction and segmentation apps' published results. A customer
without a published score says so (`null`) rather than showing a made-up number. The reads take customer ids the
caller already sees (the queryset came through the caller's Scope), so nothing here widens the scope.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from types import SimpleNamespace

from django.db import connection
from django.utils.dateparse import parse_datetime

from cartportal.access import Scope
from cartportal.models import Customer
from predictions.abandonment.cart.live import score_cart
from predictions.models import ModelVersion, Score, ScoringRun
from segments.models import CustomerProfile

RISK_KIND = "abandonment"
VALUE_KIND = "value"


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


_CURRENT_SCORE_SQL = """(
    SELECT json_build_object(
        'value', s.value, 'contributions', s.contributions, 'extra', s.extra,
        'model_version_id', r.model_version_id, 'published_at', r.published_at{version_fields})
    FROM {score} s JOIN {run} r ON r.id = s.run_id{version_join}
    WHERE s.customer_id = {customer} AND r.kind = %s AND r.state = %s
    ORDER BY r.published_at DESC NULLS LAST, s.run_id DESC LIMIT 1)"""

# what a value read adds: the model version's algorithm and forecast horizon (`_forecast_horizon`)
_VERSION_FIELDS = (
    ", 'algorithm', v.algorithm,"
    " 'forecast_days', v.holdout -> 'forecast_days', 'horizon_days', v.holdout -> 'horizon_days'"
)


def _current_score_sql(customer: str, with_version: bool = False) -> str:
    """A scalar subquery: the JSON document of the customer's current score of one kind (params: kind, state)."""
    return _CURRENT_SCORE_SQL.format(
        score=Score._meta.db_table,
        run=ScoringRun._meta.db_table,
        customer=customer,
        version_fields=_VERSION_FIELDS if with_version else "",
        version_join=f" LEFT JOIN {ModelVersion._meta.db_table} v ON v.id = r.model_version_id" if with_version else "",
    )


_PROFILE_SQL = """(
    SELECT json_build_object('dormant', p.dormant, {columns})
    FROM {profile} p WHERE p.customer_id = {customer})"""


@functools.cache
def _insights_sql() -> str:
    """The statement of `customer_insights` (built once per process; params: risk kind, state, value kind, state,
    ids)."""
    columns = ", ".join(f"'{kind}', p.{column}" for kind, column in SEGMENT_COLUMNS)
    profile = _PROFILE_SQL.format(columns=columns, profile=CustomerProfile._meta.db_table, customer="c.id")
    return (
        f"SELECT c.id, {_current_score_sql('c.id')}, {_current_score_sql('c.id', with_version=True)}, {profile} "
        f"FROM {Customer._meta.db_table} c WHERE c.id = ANY(%s)"
    )


def customer_insights(scoped_customer_ids: Iterable[int]) -> dict[int, dict]:
    """Risk, value, segments and explanation for customers the caller already sees (ids that came through a Scope):
    one query for all of them, each customer's current risk and value score and segment profile read as JSON
    documents through the scores' customer index and the profiles' primary key (written in SQL: the customer list
    reads fifty at a time and is a hot partner read; plain documents, not model instances, cost less than the
    query)."""
    ids = list(scoped_customer_ids)
    if not ids:
        return {}
    published = ScoringRun.State.PUBLISHED
    with connection.cursor() as cursor:
        cursor.execute(_insights_sql(), [RISK_KIND, published, VALUE_KIND, published, ids])
        found = {row[0]: row[1:] for row in cursor.fetchall()}
    out = {}
    for cid in ids:
        risk_document, value_document, profile_document = found.get(cid, (None, None, None))
        risk = _risk(_from_json(risk_document))
        value = _value(_from_json(value_document))
        out[cid] = {
            "risk": risk,
            "value": value,
            "segments": _segments_of(_document(profile_document)),
            "explanation": _explanation(risk, value),
        }
    return out


def _segments_of(profile: dict | None) -> list[dict]:
    if not profile:
        return []
    items = [{"kind": kind, "code": str(profile[kind])} for kind, _ in SEGMENT_COLUMNS if profile.get(kind)]
    if profile.get("dormant"):
        items.append({"kind": "dormant", "code": "dormant"})
    return items


def risk_lookup(scope: Scope, customer_id: int) -> dict | None:
    """The partner risk lookup in one query: the customer (within `scope`) with its current risk and value score.
    Written in SQL because it is the API's hottest read: the ORM's query building costs more than the query.
    None when the customer is missing or outside the scope (the caller answers both alike)."""
    where, params = scope.sql("c.region_id")
    current = _current_score_sql("c.id")
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
    document = _document(document)
    if document is None:
        return None
    published_at = document.get("published_at")
    score = SimpleNamespace(
        value=document["value"], contributions=document.get("contributions"), extra=document.get("extra")
    )
    run = SimpleNamespace(
        model_version_id=document.get("model_version_id"),
        published_at=parse_datetime(published_at) if isinstance(published_at, str) else published_at,
    )
    if "algorithm" in document:  # a value read (`with_version`): what `_forecast_horizon` reads
        holdout = {key: document.get(key) for key in ("forecast_days", "horizon_days")}
        run.model_version = SimpleNamespace(algorithm=document["algorithm"], holdout=holdout)
    return score, run


def _document(document) -> dict | None:
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    return document if isinstance(document, dict) else None


def score_live_cart(user, cart: dict, region) -> dict:
    """The cart abandonment model's live answer for an open cart (LookupError while no abandonment model is active);
    the customer is looked up in the caller's scope (a customer in a region the caller may not see is unknown)."""
    from cartportal.models import Customer

    return score_cart(cart, region=region, customers=Customer.objects.restrict(user, "view"))
