"""Per (customer, category) frames for the promotion model, as of a cut-off moment.

Category: the product's own category; a catalogue without categories (the Online Retail export has none) is
grouped by the first three characters of the stock code, which in that export keep a product line together.
Purchases are order lines of orders that were not cancelled or returned; browsing is sessions and cart-add
events of known customers (a session names no product, so only cart events carry a category affinity).

Features per pair: the customer's RFM (frequency, days since first and last purchase, mean spend), browsing
volume and recency, the customer's affinity to the category (its share of their spend; for a customer who has
only browsed, its share of their cart adds; for one who did both, the mean of the two), and the category's
share of their region's spend with its mean line value. One affinity feature rather than two keeps a model
trained on a shop's purchase history usable for browsing-only customers, whose cart adds the history may not
contain. Target: the customer's spend in the category in the
window after the cut-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartportal.models import CartEvent, OrderLine, Session
from predictions.value.transactions import rfm_summary

FEATURES = [
    "frequency",
    "days_since_first",
    "days_since_last",
    "monetary",
    "browse_events",
    "days_since_browse",
    "affinity",
    "region_share",
    "category_line_value",
]
NEVER_DAYS = 10_000.0
TOP_CATEGORIES = 20  # candidates for everyone: the most bought categories; plus each customer's own


def category_of(category: str | None, sku: str | None) -> str | None:
    if category:
        return category
    return f"code {sku[:3]}" if sku else None


@dataclass
class Activity:
    purchases: pd.DataFrame  # customer_id, region_id, at, category, sku, amount, quantity, unit_price
    browsing: pd.DataFrame  # customer_id, region_id, at, category (None for a session)

    @property
    def latest(self) -> pd.Timestamp | None:
        moments = [f["at"].max() for f in (self.purchases, self.browsing) if not f.empty]
        return max(moments) if moments else None

    @property
    def latest_purchase(self) -> pd.Timestamp | None:
        return None if self.purchases.empty else self.purchases["at"].max()


def _frame(rows, columns) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def load_activity(region_ids: list[int]) -> Activity:
    """Purchases and browsing of the given regions (the caller has scoped them)."""
    lines = (
        OrderLine.objects.filter(region_id__in=region_ids, order__customer__isnull=False, quantity__gt=0, amount__gt=0)
        .exclude(order__status__in=["cancelled", "returned"])
        .values_list(
            "order__customer_id",
            "region_id",
            "order__placed_at",
            "product__category",
            "sku",
            "amount",
            "quantity",
            "unit_price",
        )
    )
    columns = ["customer_id", "region_id", "at", "category", "sku", "amount", "quantity", "unit_price"]
    purchases = _frame(lines, columns).astype({"quantity": float, "unit_price": float})
    purchases["category"] = [category_of(c, s) for c, s in zip(purchases["category"], purchases["sku"], strict=True)]
    purchases = purchases.dropna(subset=["category"]).assign(amount=lambda f: f["amount"].astype(float))
    adds = CartEvent.objects.filter(region_id__in=region_ids, customer__isnull=False, kind=CartEvent.Kind.ADD)
    adds = _frame(
        adds.values_list(
            "customer_id", "region_id", "occurred_at", "product__category", "product__sku", "unit_price", "quantity"
        ),
        ["customer_id", "region_id", "at", "category", "sku", "unit_price", "quantity"],
    )
    adds["amount"] = adds["unit_price"].astype(float).fillna(0.0) * adds["quantity"].clip(lower=1)
    adds["category"] = [category_of(c, s) for c, s in zip(adds["category"], adds["sku"], strict=True)]
    sessions = Session.objects.filter(region_id__in=region_ids, customer__isnull=False, started_at__isnull=False)
    sessions = _frame(
        sessions.values_list("customer_id", "region_id", "started_at"), ["customer_id", "region_id", "at"]
    )
    adds = adds.drop(columns=["sku", "unit_price", "quantity"])
    browsing = pd.concat([adds, sessions.assign(category=None, amount=0.0)], ignore_index=True)
    return Activity(purchases, browsing)


def _customers(p: pd.DataFrame, b: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    if p.empty:
        rfm = pd.DataFrame(columns=["frequency", "recency", "T", "monetary", "total_spend"], dtype=float)
    else:
        daily = p.assign(at=p["at"].dt.normalize()).groupby(["customer_id", "at"], as_index=False)["amount"].sum()
        rfm = rfm_summary(daily, cutoff)
    out = pd.DataFrame(
        {
            "frequency": rfm["frequency"],
            "days_since_first": rfm["T"],
            "days_since_last": rfm["T"] - rfm["recency"],
            "monetary": rfm["monetary"],
            "total_spend": rfm["total_spend"],
        }
    )
    browse = b.groupby("customer_id").agg(events=("at", "size"), last=("at", "max"), carted=("amount", "sum"))
    browse = pd.DataFrame(
        {
            "browse_events": browse["events"].astype(float),
            "days_since_browse": (cutoff - browse["last"]).dt.days.astype(float),
            "carted": browse["carted"].astype(float),
        }
    )
    out = out.join(browse, how="outer")
    regions = pd.concat([p[["customer_id", "region_id"]], b[["customer_id", "region_id"]]]).drop_duplicates(
        "customer_id"
    )
    out["region_id"] = regions.set_index("customer_id")["region_id"].reindex(out.index)
    bought, browsed = out["frequency"].notna(), out["browse_events"].notna()
    out["base"] = np.select([bought & browsed, bought], ["both", "transaction_only"], "browsing_only")
    # A browsing-only customer is read as a first-time buyer whose one purchase was their last browse, worth what
    # they carted: the situation a purchase history teaches the model about (it holds no browsing-only people).
    only = out["base"] == "browsing_only"
    for column in ("days_since_first", "days_since_last"):
        out.loc[only, column] = out.loc[only, "days_since_browse"]
    out.loc[only, ["frequency"]] = 0.0
    out.loc[only, "monetary"] = out.loc[only, "total_spend"] = out.loc[only, "carted"]
    # "never" reads as very long ago; no purchases as zero spend (the trees need no missing values then)
    never = {"days_since_first": NEVER_DAYS, "days_since_last": NEVER_DAYS, "days_since_browse": NEVER_DAYS}
    out = out.fillna({**never, "frequency": 0.0, "monetary": 0.0, "total_spend": 0.0, "browse_events": 0.0})
    return out.drop(columns="carted").astype({c: float for c in FEATURES if c in out.columns})


def _share(frame: pd.DataFrame, weight: str | None) -> pd.Series:
    """Share of each (customer, category) in the customer's total (amount, or event count)."""
    grouped = frame.groupby(["customer_id", "category"])
    per = grouped[weight].sum() if weight else grouped.size().astype(float)
    return per / per.groupby(level=0).transform("sum")


def pairs_at(activity: Activity, cutoff: pd.Timestamp, window_days: int | None = None) -> pd.DataFrame:
    """One row per (customer, candidate category) with FEATURES, `base`, `relation`, and `target` (spend in the
    category in [cutoff, cutoff + window)) when a window is given."""
    p = activity.purchases[activity.purchases["at"] < cutoff]
    b = activity.browsing[activity.browsing["at"] < cutoff]
    customers = _customers(p, b, cutoff)
    if customers.empty or p.empty:
        return pd.DataFrame()
    top = p.groupby("category")["amount"].sum().nlargest(TOP_CATEGORIES).index
    own = pd.concat([p[["customer_id", "category"]], b.dropna(subset=["category"])[["customer_id", "category"]]])
    grid = pd.MultiIndex.from_product([customers.index, top], names=["customer_id", "category"]).to_frame(index=False)
    pairs = pd.concat([grid, own]).drop_duplicates().reset_index(drop=True)
    pairs = pairs.join(customers, on="customer_id")
    pairs = pairs.join(_share(p, "amount").rename("purchase_share"), on=["customer_id", "category"])
    cart = b.dropna(subset=["category"])
    pairs = pairs.join(_share(cart, None).rename("browse_share"), on=["customer_id", "category"])
    region_spend = p.groupby(["region_id", "category"])["amount"].sum()
    region_share = (region_spend / region_spend.groupby(level=0).transform("sum")).rename("region_share")
    pairs = pairs.join(region_share, on=["region_id", "category"])
    pairs = pairs.join(p.groupby("category")["amount"].mean().rename("category_line_value"), on="category")
    for column in ("purchase_share", "browse_share", "region_share"):
        pairs[column] = pairs[column].fillna(0.0)
    sources = (pairs["base"] != "browsing_only").astype(float) + (pairs["base"] != "transaction_only").astype(float)
    pairs["affinity"] = (
        pairs["purchase_share"] * (pairs["base"] != "browsing_only")
        + pairs["browse_share"] * (pairs["base"] != "transaction_only")
    ) / sources
    pairs["relation"] = np.select(
        [pairs["purchase_share"] > 0, pairs["browse_share"] > 0], ["bought", "browsed"], "new"
    )
    if window_days:
        end = cutoff + pd.Timedelta(days=window_days)
        after = activity.purchases[(activity.purchases["at"] >= cutoff) & (activity.purchases["at"] < end)]
        spend = after.groupby(["customer_id", "category"])["amount"].sum().rename("target")
        pairs = pairs.join(spend, on=["customer_id", "category"])
        pairs["target"] = pairs["target"].fillna(0.0)
    return pairs
