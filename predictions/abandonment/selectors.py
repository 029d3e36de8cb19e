"""Reads for the Abandonment tab; every query starts from the user's region scope."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from cartportal import extensions
from cartportal.access import get_scoped_or_404, region_sql, scoped_region_ids
from cartportal.models import CartEvent, Session
from cartportal.pages.rollups import rollup
from predictions.abandonment import features
from predictions.abandonment.explain import drivers_by_group, explain_rows
from predictions.abandonment.services import latest_model
from predictions.recommend.selectors import bought_together_for_cart, cart_skus_of_session

CANDIDATE_LIMIT = 2000


def scoped_sessions(user, region_ids: list[int] | None = None):
    sessions = Session.objects.restrict(user, "view").filter(is_bot=False)
    return sessions.filter(region_id__in=region_ids) if region_ids else sessions


@dataclass
class RiskView:
    rows: list[dict]
    scored: bool
    source: str
    drivers_by_region: dict = field(default_factory=dict)
    drivers_by_category: dict = field(default_factory=dict)


def at_risk(user, region_ids: list[int] | None = None, model=None) -> RiskView:
    """The published abandonment run's riskiest sessions (each scored customer's latest session) when there is
    one; otherwise live sessions (outcome unknown) first, else the latest sessions, scored with the current model
    and sorted by risk; without a model the sessions are listed unscored, newest first."""
    if model is None:
        published = _from_published_run(user, region_ids)
        if published is not None:
            return published
    model = model or latest_model()
    if model is None:
        return unscored_sessions(user, region_ids)
    sessions = scoped_sessions(user, region_ids)
    live = sessions.filter(converted__isnull=True)
    chosen = live if live.exists() else sessions
    source = "live sessions" if chosen is live else "latest sessions"
    ids = list(chosen.order_by("-started_at", "-id").values_list("id", flat=True)[:CANDIDATE_LIMIT])
    frame = features.build(Session.objects.filter(id__in=ids), timezone.now()) if ids else pd.DataFrame()
    if frame.empty:
        return RiskView(rows=[], scored=False, source=source)
    frame = frame.join(_session_categories(frame.index.tolist()))
    frame["category"] = frame["category"].fillna("(no cart)")
    probability = model.predict(frame)
    shap, expected = model.shap_values(frame)
    order = np.argsort(-probability, kind="stable")
    top = explain_rows(shap[order[:200]], expected, frame.iloc[order[:200]], top=1)
    rows = _rows(frame.iloc[order], probability[order], top)
    return RiskView(
        rows=rows,
        scored=True,
        source=source,
        drivers_by_region=_round(drivers_by_group(shap, frame, "region")),
        drivers_by_category=_round(drivers_by_group(shap, frame, "category")),
    )


def _from_published_run(user, region_ids: list[int] | None) -> RiskView | None:
    """The riskiest scored sessions of the latest published abandonment run in the user's scope, with the friction
    drivers stored with each score. A published run never changes, so the view is cached per run and scope."""
    from django.core.cache import cache

    from predictions.models import Kind, Score
    from predictions.selectors import latest_run

    run = latest_run(Kind.ABANDONMENT)
    if run is None:
        return None
    ids = scoped_region_ids(user, region_ids)
    key = f"abandonment-risk:{run.pk}:{'all' if ids is None else ','.join(map(str, sorted(ids)))}"
    view = cache.get(key)
    if view is None:
        scores = list(
            Score.objects.in_regions(ids)
            .filter(run=run, session__isnull=False)
            .order_by("-value", "session_id")
            .values("session_id", "customer_id", "value", "contributions")[:CANDIDATE_LIMIT]
        )
        view = _published_view(run, scores) if scores else None
        cache.set(key, view or "none", 24 * 3600)
    return None if view == "none" else view


def _published_view(run, scores: list[dict]) -> RiskView:
    session_ids = [s["session_id"] for s in scores]
    sessions = {s.pk: s for s in Session.objects.filter(pk__in=session_ids).select_related("region")}
    categories = _session_categories(session_ids)["category"].to_dict()
    rows, pushes = [], []
    for score in scores:
        session = sessions[score["session_id"]]
        contributions = score["contributions"] or {}
        category = categories.get(session.pk, "(no cart)")
        rows.append(
            {
                "session_id": session.pk,
                "external_id": session.external_id,
                "region": session.region.code.upper(),
                "customer_id": score["customer_id"],
                "started_at": session.started_at,
                "category": category,
                "probability": round(float(score["value"]), 4),
                "reason": driver_sentence(float(score["value"]), contributions),
            }
        )
        pushes.append({"region": session.region.code.lower(), "category": category, **contributions})
    frame = pd.DataFrame(pushes)
    drivers = [d for d in features.DRIVERS if d in frame]
    upward = frame[drivers].clip(lower=0)

    def by(group: str) -> dict:
        return _round(upward.groupby(frame[group]).mean()) if drivers else {}

    source = f"customers' latest sessions scored by run #{run.pk} ({run.published_at:%Y-%m-%d %H:%M})"
    return RiskView(
        rows=rows, scored=True, source=source, drivers_by_region=by("region"), drivers_by_category=by("category")
    )


def driver_sentence(probability: float, contributions: dict) -> str:
    """The friction driver that pushes a stored score up the most, in plain words."""
    from predictions.abandonment.explain import DRIVER_LABELS

    pushing = {d: v for d, v in contributions.items() if v > 0 and d in DRIVER_LABELS}
    if not pushing:
        return ""
    driver = max(pushing, key=pushing.get)
    p = min(max(probability, 1e-6), 1 - 1e-6)
    logit = float(np.log(p / (1 - p)))
    points = p - 1.0 / (1.0 + np.exp(-(logit - pushing[driver])))
    return f"{DRIVER_LABELS[driver]} raises the risk of abandoning by {points * 100:.1f} points."


@rollup
def unscored_sessions(user, region_ids: list[int] | None = None) -> RiskView:
    """Without a model: live sessions (outcome unknown) first, else the latest sessions, newest first, unscored."""
    sessions = scoped_sessions(user, scoped_region_ids(user, region_ids))
    live = sessions.filter(converted__isnull=True)
    chosen = live if live.exists() else sessions
    latest = list(chosen.select_related("region").order_by("-started_at", "-id")[:CANDIDATE_LIMIT])
    source = "live sessions" if chosen is live else "latest sessions"
    return RiskView(rows=_unscored_rows(latest), scored=False, source=source)


def _unscored_rows(sessions: list) -> list[dict]:
    categories = _session_categories([s.pk for s in sessions])["category"].to_dict()
    return [
        {
            "session_id": s.pk,
            "external_id": s.external_id,
            "region": s.region.code.upper(),
            "customer_id": s.customer_id,
            "started_at": s.started_at,
            "category": categories.get(s.pk, "(no cart)"),
            "probability": None,
            "reason": "",
        }
        for s in sessions
    ]


def _rows(frame: pd.DataFrame, probability, top) -> list[dict]:
    rows = []
    for i, (_, r) in enumerate(frame.iterrows()):
        reason = top[i][0]["sentence"] if top is not None and i < len(top) else ""
        rows.append(
            {
                "session_id": int(r["session_id"]),
                "external_id": r["external_id"],
                "region": r["region"].upper(),
                "customer_id": None if pd.isna(r["customer_id"]) else int(r["customer_id"]),
                "started_at": None if pd.isna(r["started_at"]) else r["started_at"],
                "category": r["category"],
                "probability": None if probability is None else round(float(probability[i]), 4),
                "reason": reason,
            }
        )
    return rows


def _round(table: pd.DataFrame) -> dict:
    return {str(k): {d: round(float(v), 4) for d, v in row.items()} for k, row in table.iterrows()}


def _session_categories(session_ids: list[int]) -> pd.DataFrame:
    events = CartEvent.objects.filter(session_id__in=session_ids, kind="add", product__isnull=False)
    pairs = pd.DataFrame(
        list(events.values_list("session_id", "product__category")), columns=["session_id", "category"]
    )
    if pairs.empty:
        return pd.DataFrame(columns=["category"], index=pd.Index([], name="session_id"))
    pairs["category"] = pairs["category"].replace("", "(uncategorised)")
    # each session's most added category (ties: the first by name), counted in one pass
    counts = pairs.groupby(["session_id", "category"]).size().reset_index(name="adds")
    top = counts.sort_values(["session_id", "adds", "category"], ascending=[True, False, True])
    return top.drop_duplicates("session_id").set_index("session_id")[["category"]]


@rollup
def funnel(user, region_ids: list[int] | None = None) -> list[dict]:
    """Sessions that viewed, added to cart, reached checkout and purchased (by cart events or the session outcome).
    Bot-flagged sessions are left out. One pass over the events, kept as a portal rollup."""
    ids = scoped_region_ids(user, region_ids)
    sessions_where, params = region_sql(ids, "s.region_id")
    events_where, event_params = region_sql(ids, "e.region_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*), count(*) FILTER (WHERE e.added), count(*) FILTER (WHERE e.checked_out),
                   count(*) FILTER (WHERE e.bought OR s.converted)
            FROM cartportal_session s
            LEFT JOIN (
                SELECT session_id, bool_or(kind = 'add') AS added, bool_or(kind = 'checkout') AS checked_out,
                       bool_or(kind = 'purchase') AS bought
                FROM cartportal_cartevent e
                WHERE session_id IS NOT NULL AND {events_where}
                GROUP BY session_id
            ) e ON e.session_id = s.id
            WHERE {sessions_where} AND NOT s.is_bot""",
            event_params + params,
        )
        viewed, added, checkout, purchased = cursor.fetchone()
    steps = [("Viewed", viewed), ("Added to cart", added), ("Checkout", checkout), ("Purchased", purchased)]
    first = viewed or 1
    return [{"step": step, "sessions": n, "share": round(n / first, 4)} for step, n in steps]


def session_explanation(user, pk: int, model=None) -> dict:
    session = get_scoped_or_404(Session.objects.all(), user, pk=pk)
    frame = features.build(Session.objects.filter(pk=session.pk), timezone.now())
    model = model or latest_model()
    result = {"session": session, "probability": None, "drivers": [], "features": {}}
    if not frame.empty:
        row = frame.iloc[0]
        result["features"] = {name: row[name] for name in features.FEATURES if row[name] not in ("", 0, 0.0)}
    if model is not None and not frame.empty:
        shap, expected = model.shap_values(frame)
        result["probability"] = round(float(model.predict(frame)[0]), 4)
        result["drivers"] = explain_rows(shap, expected, frame, top=5)[0]
    result["interventions"] = proposed_interventions(user, session.customer)
    result["cart"] = cart_skus_of_session(session)
    result["bought_together"] = bought_together_for_cart(result["cart"])
    return result


def proposed_interventions(user, customer) -> list | None:
    """What the installed interventions app proposes for this customer (None = no app proposes actions)."""
    if customer is None:
        return []
    if not extensions.proposed_action.available:
        return None
    return [extensions.proposed_action(user, customer)]
