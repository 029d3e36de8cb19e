"""Cart frames read from the database: for training, for the open carts of a rescoring chunk, for drift."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cartportal.models import Session
from predictions.abandonment.cart import features, points

# the most recent labelled carts a model is trained on (older ones add little and cost time on a large shop)
MAX_TRAINING_CARTS = 200_000


def with_items(frame: pd.DataFrame) -> pd.DataFrame:
    """Only carts that hold items at their prediction point (a cart emptied by removes is not open)."""
    return frame[frame["items"] > 0] if len(frame) else frame


def labelled_carts(
    *, region_ids: list[int] | None, horizon: dt.datetime, since: dt.datetime | None = None
) -> pd.DataFrame:
    """Carts (of non-bot sessions in the regions) with prediction points in [since, horizon) and their features;
    outcomes are read up to ``horizon`` (NaN where the window has not closed by then)."""
    sessions = Session.objects.filter(is_bot=False).in_regions(region_ids)
    found = points.cart_points(sessions, horizon=horizon, since=since)
    found = found[found["abandoned"].notna()].tail(MAX_TRAINING_CARTS)
    return with_items(features.for_points(found))


def open_carts_of_customers(*, region_id: int, id_from: int, id_to: int, as_of: dt.datetime) -> pd.DataFrame:
    """Each customer's latest open cart (region, customer ids in [id_from, id_to]) with its features, indexed by
    customer id; carts of anonymous sessions have no customer to score and are left out here."""
    sessions = Session.objects.filter(
        region_id=region_id, customer_id__gte=id_from, customer_id__lte=id_to, is_bot=False
    )
    frame = with_items(features.for_points(points.open_carts(sessions, as_of=as_of)))
    if frame.empty:
        return frame.assign(region_id=[]).set_index(pd.Index([], name="customer_id", dtype="int64"))
    frame = frame.sort_values("t").drop_duplicates("customer_id", keep="last")
    frame.index = pd.Index(frame["customer_id"].astype("int64").to_numpy(), name="customer_id")
    return frame.sort_index()


def open_carts_in(sessions, *, as_of: dt.datetime) -> pd.DataFrame:
    """Open carts of ``sessions`` (already scoped) with their features, indexed by cart (session id)."""
    return with_items(features.for_points(points.open_carts(sessions, as_of=as_of)))


def features_between(*, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Features of every cart whose prediction point falls in [start, end) (outcome not needed)."""
    sessions = Session.objects.filter(is_bot=False)
    return with_items(features.for_points(points.cart_points(sessions, horizon=end, since=start)))
