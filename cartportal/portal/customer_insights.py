"""What the API adds to a customer: abandonment risk, value forecast, segments and a plain-words explanation.

This is the composition layer: it reads the prediction and segmentation apps' published results. A customer
without a published score says so (`null`) rather than showing a made-up number. The reads take customer ids the
caller already sees (the queryset came through the caller's Scope), so nothing here widens the scope.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace

from django.utils.dateparse import parse_datetime

from cartportal.access import Scope
from cartportal.models import Customer
from cartportal.sql import prepared_cursor
from predictions.abandonment.cart.live import score_cart
from predictions.models import ModelVersion, Score, ScoringRun
from segments.models import CustomerProfile

RISK_KIND = "abandonment"
VALUE_KIND = "value"


def _risk(entry) -> dict | None:
    if entry is None:
        return None
    score, run = entry
    return _risk_of(
        score.value, score.contributions, getattr(run, "model_version_id", None), getattr(run, "published_at", None)
    )


def _risk_of(value, contributions, model_version_id, scored_at) -> dict:
    drivers = contributions if isinstance(contributions, list) else []
    if isinstance(contributions, dict):
        drivers = [{"driver": k, "contribution": v} for k, v in contributions.items()]
    return {
        "probability": round(float(value), 6),
        "drivers": drivers,
        "model_version": model_version_id,
        "scored_at": scored_at,
    }


def _value(entry) -> dict | None:
    if entry is None:
        return None
    score, run = entry
    version = getattr(run, "model_version", None)
    holdout = (version.holdout or {}) if version is not None else {}
    return _value_of(
        score.value,
        score.extra,
        getattr(run, "model_version_id", None),
        getattr(run, "published_at", None),
        getattr(version, "algorithm", None),
        holdout.get("forecast_days") or holdout.get("horizon_days"),
    )


def _value_of(value, extra, model_version_id, scored_at, algorithm, horizon_days) -> dict:
    """The value forecast as the API shows it, with over which horizon and by which model it was made."""
    extra = extra if isinstance(extra, dict) else {}
    return {
        "expected_spend": extra.get("expected_spend", float(value)),
        "p_active": extra.get("p_active"),
        "expected_purchases": extra.get("expected_purchases"),
        "model_version": model_version_id,
        "scored_at": scored_at,
        "horizon_days": horizon_days,
        "model": algorithm,
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

# what a value read adds: the model version's algorithm and forecast horizon (`_value`)
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


_PROFILE_KEYS = ("dormant", *(kind for kind, _ in SEGMENT_COLUMNS))
_LATEST = "ORDER BY r.published_at DESC NULLS LAST, s.run_id DESC LIMIT 1"


@functools.cache
def _insights_sql() -> str:
    """The statement of `customer_insights` (built once per process; params: risk kind, state, value kind, state,
    ids): each customer's current risk score, value score (with its model's algorithm and horizon) and segment
    profile as plain columns, the scores through lateral reads of the scores' customer index. Publication times come
    as text, so that the page's few distinct runs are each parsed once rather than once per row."""
    score, run = Score._meta.db_table, ScoringRun._meta.db_table
    version, profile = ModelVersion._meta.db_table, CustomerProfile._meta.db_table
    segments = ", ".join(f"p.{column}" for _, column in SEGMENT_COLUMNS)
    return (
        "SELECT c.id, rk.value, rk.contributions, rk.model_version_id, rk.published_at::text, "
        "vk.value, vk.extra, vk.model_version_id, vk.published_at::text, vk.algorithm, vk.forecast_days, "
        "vk.horizon_days, "
        f"rk.found, vk.found, p.customer_id IS NOT NULL, p.dormant, {segments} "
        f"FROM {Customer._meta.db_table} c "
        "LEFT JOIN LATERAL (SELECT TRUE AS found, s.value, s.contributions, r.model_version_id, r.published_at "
        f"  FROM {score} s JOIN {run} r ON r.id = s.run_id "
        f"  WHERE s.customer_id = c.id AND r.kind = %s AND r.state = %s {_LATEST}) rk ON TRUE "
        "LEFT JOIN LATERAL (SELECT TRUE AS found, s.value, s.extra, r.model_version_id, r.published_at, v.algorithm, "
        "  v.holdout -> 'forecast_days' AS forecast_days, v.holdout -> 'horizon_days' AS horizon_days "
        f"  FROM {score} s JOIN {run} r ON r.id = s.run_id LEFT JOIN {version} v ON v.id = r.model_version_id "
        f"  WHERE s.customer_id = c.id AND r.kind = %s AND r.state = %s {_LATEST}) vk ON TRUE "
        f"LEFT JOIN {profile} p ON p.customer_id = c.id "
        "WHERE c.id = ANY(%s)"
    )


def customer_insights(scoped_customer_ids: Iterable[int]) -> dict[int, dict]:
    """Risk, value, segments and explanation for customers the caller already sees (ids that came through a Scope):
    one query for all of them, each customer's current risk and value score and segment profile read as plain
    columns through the scores' customer index and the profiles' primary key (written in SQL: the customer list
    reads fifty at a time and is a hot partner read; plain values, not model instances, cost less than the
    query; the statement is kept prepared in each database session)."""
    ids = list(scoped_customer_ids)
    if not ids:
        return {}
    published = ScoringRun.State.PUBLISHED
    with prepared_cursor() as cursor:
        cursor.execute(_insights_sql(), [RISK_KIND, published, VALUE_KIND, published, ids])
        found = {row[0]: row for row in cursor.fetchall()}
    out = {}
    times: dict = {}  # a run's publication time, written as the JSON renderer would, once per run
    for cid in ids:
        row = found.get(cid)
        if row is None:
            risk = value = None
            segments = []
        else:
            risk = _risk_of(row[1], _json(row[2]), row[3], _time(times, row[4])) if row[12] else None
            value = None
            if row[13]:
                horizon = _json(row[10]) or _json(row[11])
                value = _value_of(row[5], _json(row[6]), row[7], _time(times, row[8]), row[9], horizon)
            segments = _segments_of(dict(zip(_PROFILE_KEYS, row[15:], strict=True))) if row[14] else []
        out[cid] = {"risk": risk, "value": value, "segments": segments, "explanation": _explanation(risk, value)}
    return out


def _time(known: dict, at):
    """`at` (a datetime, or PostgreSQL's text of a timestamp) as REST framework's JSON encoder writes a datetime
    (ISO 8601, UTC as "Z"), computed once per value."""
    if at is None:
        return None
    text = known.get(at)
    if text is None:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else at
        text = moment.isoformat()
        known[at] = text = text[:-6] + "Z" if text.endswith("+00:00") else text
    return text


def _segments_of(profile: dict | None) -> list[dict]:
    if not profile:
        return []
    items = [{"kind": kind, "code": str(profile[kind])} for kind, _ in SEGMENT_COLUMNS if profile.get(kind)]
    if profile.get("dormant"):
        items.append({"kind": "dormant", "code": "dormant"})
    return items


def risk_lookup(scope: Scope, customer_id: int) -> dict | None:
    """The partner risk lookup in one query: the customer (within `scope`) with its current risk and value score.
    Written in SQL because it is the API's hottest read: the ORM's query building costs more than the query, and
    kept prepared in each database session (planning it cost several times its execution). None when the customer
    is missing or outside the scope (the caller answers both alike)."""
    where, params = scope.sql("c.region_id")
    current = _current_score_sql("c.id")
    sql = (
        f"SELECT c.id, c.external_id, {current} AS risk, {current} AS value "
        f"FROM {Customer._meta.db_table} c WHERE c.id = %s AND {where}"
    )
    published = ScoringRun.State.PUBLISHED
    with prepared_cursor() as cursor:
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
    if "algorithm" in document:  # a value read (`with_version`): what `_value` reads
        holdout = {key: document.get(key) for key in ("forecast_days", "horizon_days")}
        run.model_version = SimpleNamespace(algorithm=document["algorithm"], holdout=holdout)
    return score, run


def _json(value):
    """A JSON column's value (the database driver hands JSON over as text, as Django's JSONField expects)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _document(document) -> dict | None:
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    return document if isinstance(document, dict) else None


def score_live_cart(user, cart: dict, region) -> dict:
    """The cart abandonment model's live answer for an open cart (LookupError while no abandonment model is active);
    the customer is looked up in the caller's scope (a customer in a region the caller may not see is unknown)."""
    from cartportal.models import Customer

    return score_cart(cart, region=region, customers=Customer.objects.restrict(user, "view"))
