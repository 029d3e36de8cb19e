"""Reads for the win-back list: the dormant customers of the caller's regions ranked by a model fitted on the window
just completed, and the lift that the same recipe measured on that window (trained one window earlier).

Fitting takes seconds, so a result is kept in the cache until an order arrives in the scope."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from django.core.cache import cache
from django.db.models import Count, Max

from cartportal.access import region_ids_for
from cartportal.models import CartEvent, Order, OrderLine, Session
from predictions.value.transactions import TransactionError
from predictions.winback import features as wf
from predictions.winback import lines as wl
from predictions.winback import model as wm

CACHE_SECONDS = 6 * 3600


@dataclass
class Winback:
    ranked: pd.DataFrame  # index: customer external id; probability, predicted_spend, expected_value, ...
    window: dict
    model: str
    measured: dict | None  # the last completed window's figures, or None
    not_measured: str  # why there is no measured window
    problem: str = ""  # why there is no ranking at all (empty ``ranked``)


def _scoped(user, region_ids: list[int]):
    allowed = region_ids_for(user, "view")
    ids = [r for r in region_ids if allowed is None or r in allowed]
    return ids, Order.objects.restrict(user, "view").filter(region_id__in=ids)


def _activity(user, ids: list[int]) -> pd.DataFrame:
    sessions = Session.objects.restrict(user, "view").filter(region_id__in=ids, customer__isnull=False)
    adds = CartEvent.objects.restrict(user, "view").filter(region_id__in=ids, customer__isnull=False, kind="add")
    rows = [(c, at, "session") for c, at in sessions.values_list("customer__external_id", "started_at")]
    rows += [(c, at, "cart_add") for c, at in adds.values_list("customer__external_id", "occurred_at")]
    frame = pd.DataFrame(rows, columns=["customer_id", "at", "kind"]).dropna(subset=["at"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(None)
    return frame


def winback_for(user, region_ids: list[int], *, months: int = 3, share: float = 0.2) -> Winback:
    ids, orders = _scoped(user, region_ids)
    stamp = orders.aggregate(n=Count("id"), last=Max("id"))
    key = f"winback:v1:{sorted(ids)}:{months}:{share}:{stamp['n']}:{stamp['last']}"
    found = cache.get(key)
    if found is None:
        found = _compute(user, ids, orders, months, share)
        cache.set(key, found, CACHE_SECONDS)
    return found


def _compute(user, ids: list[int], orders, months: int, share: float) -> Winback:
    try:
        lines = wl.from_database(OrderLine.objects.restrict(user, "view").filter(region_id__in=ids), orders)
    except TransactionError as exc:
        return Winback(pd.DataFrame(), {}, "", None, str(exc), problem=str(exc))
    activity = _activity(user, ids)
    cutoff = lines["at"].max().normalize() + pd.Timedelta(days=1)
    current = wf.window_ending(cutoff, months)
    try:
        model = wm.fit(lines, current.previous(), share=share, activity=activity)
        ranked = wm.rank(model, wf.window_features(lines, current, activity))
    except TransactionError as exc:
        return Winback(pd.DataFrame(), current.describe(), "", None, str(exc), problem=str(exc))
    try:
        measured, why = wm.evaluate(lines, current.previous(), share=share, activity=activity), ""
    except TransactionError as exc:
        measured, why = None, str(exc)
    return Winback(ranked, current.describe(), model.candidate.name, measured, why)
