"""Carts and their prediction points.

A cart is a session's cart events. It is *open* at a moment when it holds items and no purchase has followed.
The model predicts at a point t while the cart is open: just after the cart's latest change (an add or a remove)
before its first purchase, or "now" for a cart scored live. The outcome is whether a purchase in the cart's
session, or an order of its customer, follows within the recovery window after t; it is unknown (NaN) while the
window has not closed at the horizon the data is read up to. Events on or after t are only ever read for that
outcome, never for features (see features.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import QuerySet

from cartportal.models import CartEvent, Order, Session

# the prediction point sits just after the change, so that the change itself is "before t"
AFTER_CHANGE = pd.Timedelta(seconds=1)
CONTEXT_FIELDS = {
    "id": "session_id",
    "customer_id": "customer_id",
    "region_id": "region_id",
    "region__code": "region",
    "region__timezone": "timezone",
    "started_at": "started_at",
    "device": "device",
    "traffic_source": "traffic_source",
}


_window_hours: contextvars.ContextVar[int | None] = contextvars.ContextVar("abandonment_window_hours", default=None)


def window() -> pd.Timedelta:
    """The recovery window: CARTPORTAL_ABANDONMENT_WINDOW_HOURS, unless a backtest asks for another one."""
    hours = _window_hours.get()
    return pd.Timedelta(hours=settings.CARTPORTAL_ABANDONMENT_WINDOW_HOURS if hours is None else hours)


@contextlib.contextmanager
def recovery_window(hours: int | None):
    """Within the block, outcomes (and earlier abandoned carts) use a window of ``hours`` (None: the setting)."""
    token = _window_hours.set(hours)
    try:
        yield
    finally:
        _window_hours.reset(token)


def frame_of(queryset, fields: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(queryset.values_list(*fields)), columns=list(fields.values()))


def cart_points(sessions: QuerySet, *, horizon: dt.datetime, since: dt.datetime | None = None) -> pd.DataFrame:
    """One row per cart of ``sessions`` (already scoped by the caller) whose prediction point t falls before
    ``horizon`` (and on or after ``since``), reading only events before ``horizon``. Columns: session context
    (CONTEXT_FIELDS), ``t`` and ``abandoned`` (1 not bought within the window, 0 bought, NaN not known yet)."""
    events = frame_of(
        CartEvent.objects.filter(session__in=sessions, occurred_at__lt=horizon),
        {"session_id": "session_id", "kind": "kind", "occurred_at": "occurred_at"},
    )
    if events.empty:
        return _empty()
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True)
    purchases = events[events["kind"] == "purchase"].groupby("session_id")["occurred_at"].min()
    changes = events[events["kind"].isin(["add", "remove"])].join(purchases.rename("bought_at"), on="session_id")
    changes = changes[changes["bought_at"].isna() | (changes["occurred_at"] < changes["bought_at"])]
    # just after the latest change, but never past the horizon (a cart changed a moment ago is open now)
    latest = changes.groupby("session_id")["occurred_at"].max() + AFTER_CHANGE
    points = latest.clip(upper=pd.Timestamp(horizon)).rename("t").to_frame()
    points = points.join(purchases.rename("bought_at"))
    if since is not None:
        points = points[points["t"] >= pd.Timestamp(since)]
    points = points[points["t"] <= pd.Timestamp(horizon)]
    if points.empty:
        return _empty()
    context = frame_of(Session.objects.filter(pk__in=points.index.tolist()), CONTEXT_FIELDS)
    points = context.join(points, on="session_id", how="inner")
    points.index = pd.Index(points["session_id"].to_numpy(), name="cart")
    points["abandoned"] = outcome(points, horizon)
    return points.drop(columns=["bought_at"]).sort_values(["t", "session_id"])


def outcome(points: pd.DataFrame, horizon: dt.datetime) -> pd.Series:
    """1.0 when neither a purchase in the session nor an order of the customer follows within the window after t,
    0.0 when one does, NaN when the window has not closed by ``horizon`` and nothing has been bought yet."""
    closes = points["t"] + window()
    bought = points["bought_at"].notna() & (points["bought_at"] < closes)
    bought |= _ordered_within_window(points, horizon)
    known = bought | (closes <= pd.Timestamp(horizon))
    return pd.Series(np.where(known, (~bought).astype(float), np.nan), index=points.index)


def _ordered_within_window(points: pd.DataFrame, horizon: dt.datetime) -> pd.Series:
    customers = points["customer_id"].dropna().astype("int64").unique().tolist()
    none = pd.Series(False, index=points.index)
    if not customers:
        return none
    orders = frame_of(
        Order.objects.filter(
            customer_id__in=customers, placed_at__gte=points["t"].min(), placed_at__lt=horizon
        ).exclude(status=Order.Status.CANCELLED),
        {"customer_id": "customer_id", "placed_at": "placed_at"},
    )
    if orders.empty:
        return none
    orders["placed_at"] = pd.to_datetime(orders["placed_at"], utc=True)
    pairs = points[["customer_id", "t"]].dropna(subset=["customer_id"]).reset_index(names="cart")
    pairs = pairs.astype({"customer_id": "int64"}).merge(orders.astype({"customer_id": "int64"}), on="customer_id")
    hit = pairs[(pairs["placed_at"] >= pairs["t"]) & (pairs["placed_at"] < pairs["t"] + window())]
    return none | none.index.isin(hit["cart"].unique())


def open_carts(sessions: QuerySet, *, as_of: dt.datetime) -> pd.DataFrame:
    """Carts of ``sessions`` open at ``as_of``: changed within the last CARTPORTAL_OPEN_CART_DAYS of the shop's
    cart activity before ``as_of`` and not bought since. Their prediction point is their latest change (items are
    checked when the features are built: a cart emptied by removes is not open)."""
    latest = CartEvent.objects.filter(session__in=sessions, occurred_at__lt=as_of).order_by("-occurred_at")
    last = latest.values_list("occurred_at", flat=True).first()
    if last is None:
        return _empty()
    since = last - dt.timedelta(days=settings.CARTPORTAL_OPEN_CART_DAYS)
    recent = sessions.filter(
        pk__in=CartEvent.objects.filter(occurred_at__gte=since, occurred_at__lt=as_of).values("session_id")
    )
    points = cart_points(recent, horizon=as_of, since=since)
    bought_since = points["abandoned"] == 0.0
    return points[~bought_since]


def _empty() -> pd.DataFrame:
    columns = ["session_id", *list(CONTEXT_FIELDS.values())[1:], "t", "abandoned"]
    return pd.DataFrame(columns=columns, index=pd.Index([], name="cart"))
