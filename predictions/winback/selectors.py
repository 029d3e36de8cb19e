"""Reads for the win-back list: the dormant customers of the caller's regions ranked by a model fitted on the window
just completed, and the lift that the same recipe measured on that window (trained one window earlier).

Fitting takes from seconds to minutes (a model chosen by repeated cross-validation, then measured), so pages never
fit in the request: they read a result kept in the cache until an order arrives in the scope, and when there is none
they queue `predictions.winback_warm` on a worker and say so."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from celery import current_app
from django.core.cache import cache
from django.db.models import Count, Max

from cartportal.access import region_ids_for
from cartportal.models import CartEvent, Order, OrderLine, Session
from predictions.value.transactions import TransactionError
from predictions.winback import features as wf
from predictions.winback import lines as wl
from predictions.winback import model as wm

CACHE_SECONDS = 6 * 3600
PENDING_SECONDS = 15 * 60  # a queued computation that has not answered by then may be queued again


@dataclass
class Winback:
    ranked: pd.DataFrame  # index: customer external id; probability, predicted_spend, expected_value, ...
    window: dict
    model: str
    measured: dict | None  # the last completed window's figures, or None
    not_measured: str  # why there is no measured window
    problem: str = ""  # why there is no ranking at all (empty ``ranked``)


def _rows(model, user):
    """Rows of ``model``: inside the user's scope, or all of them for a worker given region ids already checked."""
    return model.objects.all() if user is None else model.objects.restrict(user, "view")


def _scoped(user, region_ids: list[int]):
    allowed = None if user is None else region_ids_for(user, "view")
    ids = sorted(r for r in region_ids if allowed is None or r in allowed)
    return ids, _rows(Order, user).filter(region_id__in=ids)


def _activity(user, ids: list[int]) -> pd.DataFrame:
    sessions = _rows(Session, user).filter(region_id__in=ids, customer__isnull=False)
    adds = _rows(CartEvent, user).filter(region_id__in=ids, customer__isnull=False, kind="add")
    rows = [(c, at, "session") for c, at in sessions.values_list("customer__external_id", "started_at")]
    rows += [(c, at, "cart_add") for c, at in adds.values_list("customer__external_id", "occurred_at")]
    frame = pd.DataFrame(rows, columns=["customer_id", "at", "kind"]).dropna(subset=["at"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(None)
    return frame


def _key(ids: list[int], orders, months: int, share: float) -> tuple[str, int]:
    stamp = orders.aggregate(n=Count("id"), last=Max("id"))
    return f"winback:v1:{ids}:{months}:{share}:{stamp['n']}:{stamp['last']}", stamp["n"]


def winback_for(user, region_ids: list[int], *, months: int = 3, share: float = 0.2) -> Winback:
    """The win-back list of the user's share of ``region_ids``, computed here when it is not kept (for services
    and workers; pages use `winback_ready`). ``user`` None: a worker, with region ids already checked."""
    ids, orders = _scoped(user, region_ids)
    key, _ = _key(ids, orders, months, share)
    found = cache.get(key)
    if found is None:
        found = _compute(user, ids, orders, months, share)
        cache.set(key, found, CACHE_SECONDS)
        cache.delete(f"{key}:pending")
    return found


def winback_ready(user, region_ids: list[int], *, months: int = 3, share: float = 0.2) -> Winback | None:
    """The kept win-back list, or None after queueing its computation on a worker (once per data state). Without
    any order there is nothing to fit: the answer saying what to load is given at once."""
    ids, orders = _scoped(user, region_ids)
    key, orders_count = _key(ids, orders, months, share)
    found = cache.get(key)
    if found is None and not orders_count:
        return winback_for(user, region_ids, months=months, share=share)
    if found is None and ids and cache.add(f"{key}:pending", True, PENDING_SECONDS):
        current_app.send_task("predictions.winback_warm", args=[ids, months, share])
    return found


def _compute(user, ids: list[int], orders, months: int, share: float) -> Winback:
    try:
        lines = wl.from_database(_rows(OrderLine, user).filter(region_id__in=ids), orders)
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
