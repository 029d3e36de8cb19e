"""Reads for the Abandonment tab; every query starts from the user's region scope."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cartportal.access import get_scoped_or_404
from cartportal.models import CartEvent, Session
from predictions.abandonment import features
from predictions.abandonment.explain import drivers_by_group, explain_rows
from predictions.abandonment.services import latest_model

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
    """Live sessions (outcome unknown) first, else the latest sessions, scored with the current model and sorted by
    risk; without a model the sessions are listed unscored, newest first."""
    sessions = scoped_sessions(user, region_ids)
    live = sessions.filter(converted__isnull=True)
    chosen = live if live.exists() else sessions
    ids = list(chosen.order_by("-started_at", "-id").values_list("id", flat=True)[:CANDIDATE_LIMIT])
    frame = features.build(Session.objects.filter(id__in=ids), timezone.now()) if ids else pd.DataFrame()
    model = model or latest_model()
    source = "live sessions" if chosen is live else "latest sessions"
    if frame.empty:
        return RiskView(rows=[], scored=False, source=source)
    frame = frame.join(_session_categories(frame.index.tolist()))
    frame["category"] = frame["category"].fillna("(no cart)")
    if model is None:
        return RiskView(rows=_rows(frame, None, None), scored=False, source=source)
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
    return pairs.groupby("session_id")["category"].agg(lambda c: c.mode().iloc[0]).to_frame()


def funnel(user, region_ids: list[int] | None = None) -> list[dict]:
    """Sessions that viewed, added to cart, reached checkout and purchased (by cart events or the session outcome)."""
    sessions = scoped_sessions(user, region_ids)
    events = CartEvent.objects.filter(session_id=OuterRef("pk"))
    annotated = sessions.annotate(
        added=Exists(events.filter(kind="add")),
        checked_out=Exists(events.filter(kind="checkout")),
        bought=Exists(events.filter(kind="purchase")),
    )
    purchased = annotated.filter(bought=True) | annotated.filter(converted=True)
    steps = [
        ("Viewed", sessions.count()),
        ("Added to cart", annotated.filter(added=True).count()),
        ("Checkout", annotated.filter(checked_out=True).count()),
        ("Purchased", purchased.count()),
    ]
    first = steps[0][1] or 1
    return [{"step": s, "sessions": n, "share": round(n / first, 4)} for s, n in steps]


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
    return result


def proposed_interventions(user, customer) -> list | None:
    """What the interventions app proposes for this customer, when that app offers it (None = not available)."""
    if customer is None:
        return []
    try:
        from interventions.selectors import proposed_for
    except ImportError:
        return None
    return [proposed_for(user, customer)]
