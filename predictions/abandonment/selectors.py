"""Reads for the Abandonment tab; every query starts from the user's region scope.

"At risk now" lists open carts (see predictions.abandonment.cart.points) ordered by expected lost revenue, risk x
cart value: from the latest published abandonment run when there is one, else scored now with the current model,
else unscored (by cart value)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from django.db import connection
from django.utils import timezone

from cartportal.access import get_scoped_or_404, region_sql, scoped_region_ids
from cartportal.models import CartEvent, Session
from cartportal.pages.rollups import rollup
from predictions import reviews
from predictions.abandonment.cart import carts, features, points, proposals
from predictions.abandonment.cart.explain import top_driver, top_reasons
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
    """Open carts in the user's regions, riskiest expected loss first (see the module docstring)."""
    if model is not None:
        return _score_open_carts(user, region_ids, model)
    published = _from_published_run(user, region_ids)
    if published is not None:
        return published
    return _open_carts_now(user, region_ids)


@rollup
def _open_carts_now(user, region_ids: list[int] | None) -> RiskView:
    """The open carts scored now with the current model, kept as a rollup: on a large shop finding and scoring
    every open cart takes minutes, so pages (the Abandonment tab, a manager's home) read what was computed last,
    which new carts, a new model or a published run make stale (refreshed as every rollup is)."""
    return _score_open_carts(user, region_ids, latest_model())


def _score_open_carts(user, region_ids: list[int] | None, model) -> RiskView:
    frame = carts.open_carts_in(scoped_sessions(user, region_ids), as_of=timezone.now())
    if frame.empty:
        return RiskView(rows=[], scored=model is not None, source="open carts")
    frame = frame.join(_session_categories(frame.index.tolist()))
    frame["category"] = frame["category"].fillna("(uncategorised)")
    names = dict(Session.objects.filter(pk__in=frame.index.tolist()).values_list("pk", "external_id"))
    frame["external_id"] = frame.index.map(names)
    if model is None:
        frame = frame.sort_values("cart_value", ascending=False).head(CANDIDATE_LIMIT)
        return RiskView(rows=[_row(r, None) for _, r in frame.iterrows()], scored=False, source="open carts")
    scored = model.score(frame)
    frame = frame.join(scored[[c for c in scored.columns if c not in frame.columns]])
    frame = frame.sort_values("expected_loss", ascending=False)
    pushes = pd.DataFrame(list(frame["contributions"]), index=frame.index)
    return RiskView(
        rows=[_row(r, r) for _, r in frame.head(CANDIDATE_LIMIT).iterrows()],
        scored=True,
        source="open carts scored now with the current model",
        drivers_by_region=_upward(pushes, frame["region"].str.lower()),
        drivers_by_category=_upward(pushes, frame["category"]),
    )


def _row(cart, scored) -> dict:
    intervention = None if scored is None else scored.get("intervention")
    return {
        "session_id": int(cart["session_id"]),
        "external_id": cart["external_id"],
        "region": str(cart["region"]).upper(),
        "customer_id": None if pd.isna(cart["customer_id"]) else int(cart["customer_id"]),
        "changed_at": pd.Timestamp(cart["t"]).to_pydatetime(),
        "category": cart["category"],
        "items": int(cart["items"]),
        "cart_value": round(float(cart["cart_value"]), 2),
        "probability": None if scored is None else round(float(scored["value"]), 4),
        "expected_loss": None if scored is None else round(float(scored["expected_loss"]), 2),
        "reasons": [] if scored is None else list(scored["reasons"]),
        "intervention": (intervention or {}).get("name", ""),
        "contributions": {} if scored is None else dict(scored["contributions"] or {}),
    }


def carts_matching(rows: list[dict], flt) -> list[dict]:
    """The at-risk rows whose cart session passes the analysis filter (started in the period, holding a product of
    the category, on the device, of a customer in the segment); the rows are already in the user's scope."""
    session_ids = [r["session_id"] for r in rows]
    if not session_ids:
        return rows
    where, params = flt.sql(at="s.started_at", customer="s.customer_id", device="s.device", session="s.id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id FROM cartportal_session s WHERE s.id = ANY(%s) AND {where}", [session_ids, *params]
        )
        keep = {row[0] for row in cursor.fetchall()}
    return [r for r in rows if r["session_id"] in keep]


def drivers_of(rows: list[dict]) -> tuple[dict, dict]:
    """The friction drivers by region and by category of these at-risk rows (the charts of a filtered list)."""
    pushes = pd.DataFrame(
        [{"region": r["region"].lower(), "category": r["category"], **r["contributions"]} for r in rows]
    )
    if pushes.empty:
        return {}, {}
    return _upward(pushes, pushes["region"]), _upward(pushes, pushes["category"])


def _upward(pushes: pd.DataFrame, group: pd.Series) -> dict:
    drivers = [d for d in features.DRIVERS if d in pushes]
    if not drivers:
        return {}
    return _round(pushes[drivers].clip(lower=0).groupby(group.to_numpy()).mean())


def _from_published_run(user, region_ids: list[int] | None) -> RiskView | None:
    """The open carts of the latest published abandonment run in the user's scope, by expected loss, with the
    drivers, reasons and proposal stored with each score. A published run never changes, so the view is cached
    per run and scope."""
    from django.db.models import FloatField
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import Cast

    from cartportal import kept
    from predictions.models import Kind, Score
    from predictions.selectors import latest_run

    run = latest_run(Kind.ABANDONMENT)
    if run is None:
        return None
    ids = scoped_region_ids(user, region_ids)
    key = f"abandonment-risk:{run.pk}:{'all' if ids is None else ','.join(map(str, sorted(ids)))}"
    view = kept.get(key)
    if view is None:
        loss = Cast(KeyTextTransform("expected_loss", "extra"), FloatField())
        scores = list(
            Score.objects.in_regions(ids)
            .filter(run=run, session__isnull=False, extra__has_key="expected_loss")
            .annotate(loss=loss)
            .order_by("-loss", "session_id")
            .values("session_id", "customer_id", "value", "contributions", "extra")[:CANDIDATE_LIMIT]
        )
        view = _published_view(run, scores)
        kept.put(key, view, 24 * 3600)
    return view


def _published_view(run, scores: list[dict]) -> RiskView:
    session_ids = [s["session_id"] for s in scores]
    sessions = {s.pk: s for s in Session.objects.filter(pk__in=session_ids).select_related("region")}
    categories = _session_categories(session_ids)["category"].to_dict()
    rows, pushes = [], []
    for score in scores:
        session, extra = sessions.get(score["session_id"]), score["extra"] or {}
        if session is None:
            continue
        category = categories.get(session.pk, "(uncategorised)")
        rows.append(
            {
                "session_id": session.pk,
                "external_id": session.external_id,
                "region": session.region.code.upper(),
                "customer_id": score["customer_id"],
                "changed_at": pd.Timestamp(extra.get("prediction_point")).to_pydatetime()
                if extra.get("prediction_point")
                else None,
                "category": category,
                "items": None,
                "cart_value": extra.get("cart_value"),
                "probability": round(float(score["value"]), 4),
                "expected_loss": extra.get("expected_loss"),
                "reasons": list(extra.get("reasons") or []),
                "intervention": (extra.get("intervention") or {}).get("name", ""),
                "contributions": dict(score["contributions"] or {}),
            }
        )
        pushes.append({"region": session.region.code.lower(), "category": category, **(score["contributions"] or {})})
    frame = pd.DataFrame(pushes)
    source = f"open carts scored by run #{run.pk} ({run.published_at:%Y-%m-%d %H:%M})"
    if frame.empty:
        return RiskView(rows=[], scored=True, source=source)
    return RiskView(
        rows=rows,
        scored=True,
        source=source,
        drivers_by_region=_upward(frame, frame["region"]),
        drivers_by_category=_upward(frame, frame["category"]),
    )


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


FRICTION_ROWS = 15


@rollup
def review_friction_by_category(user, region_ids: list[int] | None = None) -> list[dict]:
    """The categories with most reviews, their negative share and its themes (predictions.reviews), kept as a portal
    rollup: scoring every review text on each visit of the tab took most of its time; a new review makes it stale."""
    return reviews.review_friction(user, "category", region_ids).head(FRICTION_ROWS).to_dict("records")


def funnel_cutoff():
    """The moment the funnel is counted up to: the data cut-off of the published abandonment run that the At-risk list
    and the driver charts show (so all three describe the same carts), else now while no run is published."""
    from predictions.models import Kind
    from predictions.selectors import latest_run

    run = latest_run(Kind.ABANDONMENT)
    if run is None:
        return timezone.now()
    return run.as_of or run.published_at or run.created_at


@rollup
def funnel(user, region_ids: list[int] | None = None, flt=None) -> list[dict]:
    """Sessions that viewed, added to cart, reached checkout and purchased, as of ``funnel_cutoff()``: sessions
    started before it and their cart events before it (a cart added later joins with the next published run).
    A session imported without cart events counts as purchased by its recorded outcome; one with cart events only
    by a purchase event before the cut-off. Bot-flagged sessions are left out. One pass over the events, kept as a
    portal rollup (a newly published run makes it stale)."""
    ids = scoped_region_ids(user, region_ids)
    cutoff = funnel_cutoff()
    sessions_where, params = region_sql(ids, "s.region_id")
    if flt is not None:
        chosen, chosen_params = flt.sql(at="s.started_at", customer="s.customer_id", device="s.device", session="s.id")
        sessions_where, params = f"{sessions_where} AND {chosen}", params + chosen_params
    events_where, event_params = region_sql(ids, "e.region_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*), count(*) FILTER (WHERE e.added), count(*) FILTER (WHERE e.checked_out),
                   count(*) FILTER (WHERE e.bought OR (e.session_id IS NULL AND s.converted))
            FROM cartportal_session s
            LEFT JOIN (
                SELECT session_id, bool_or(kind = 'add') AS added, bool_or(kind = 'checkout') AS checked_out,
                       bool_or(kind = 'purchase') AS bought
                FROM cartportal_cartevent e
                WHERE session_id IS NOT NULL AND occurred_at < %s AND {events_where}
                GROUP BY session_id
            ) e ON e.session_id = s.id
            WHERE {sessions_where} AND NOT s.is_bot AND (s.started_at IS NULL OR s.started_at < %s)""",
            [cutoff, *event_params, *params, cutoff],
        )
        viewed, added, checkout, purchased = cursor.fetchone()
    steps = [("Viewed", viewed), ("Added to cart", added), ("Checkout", checkout), ("Purchased", purchased)]
    first = viewed or 1
    return [{"step": step, "sessions": n, "share": round(n / first, 4)} for step, n in steps]


def session_explanation(user, pk: int, model=None) -> dict:
    """The cart of one session at its latest prediction point: risk, every driver in concrete words, the facts the
    model saw and the proposed intervention."""
    session = get_scoped_or_404(Session.objects.all(), user, pk=pk)
    found = points.cart_points(Session.objects.filter(pk=session.pk), horizon=timezone.now())
    frame = carts.with_items(features.for_points(found))
    model = model or latest_model()
    result = {
        "session": session,
        "probability": None,
        "drivers": [],
        "features": [],
        "intervention": None,
        "reasons": [],
        "cart": None,
    }
    result["cart_skus"] = cart_skus_of_session(session)
    result["bought_together"] = bought_together_for_cart(result["cart_skus"])
    if frame.empty:
        return result
    row = frame.iloc[0]
    result["cart"] = {
        "changed_at": row["t"],
        "value": round(float(row["cart_value"]), 2),
        "items": int(row["items"]),
        "outcome": _outcome(row["abandoned"]),
    }
    # (name, value) pairs: a dict would clash with template look-ups ("items" is a feature name)
    result["features"] = [(name, row[name]) for name in features.FEATURES if _shown(row[name])]
    if model is not None:
        probability, drivers = model.explain(frame)
        result["probability"] = round(float(probability[0]), 4)
        result["drivers"] = drivers[0]
        result["reasons"] = top_reasons(drivers[0])
        result["intervention"] = proposals.propose(
            {
                "top_driver": top_driver(drivers[0]),
                "customer_id": session.customer_id,
                "low_rated_items": row["low_rated_items"],
            }
        )
    return result


def _outcome(abandoned) -> str:
    if pd.isna(abandoned):
        return "still open"
    return "not bought within the window" if abandoned else "bought"


def _shown(value) -> bool:
    if isinstance(value, str):
        return bool(value)
    return not pd.isna(value) and value != 0
