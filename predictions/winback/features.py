"""Win-back windows and the features of a window's dormant customers, computed from lines before the end of the
dormant period only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from predictions.value.transactions import TransactionError

# Feature groups the model selection combines; a group whose columns the data cannot fill is left out.
GROUPS = {
    "rfm": ["days_since_last", "invoices", "spend", "tenure"],
    "basket": ["lines_per_invoice", "median_price", "median_quantity"],
    "activity": ["purchase_rate", "months_active"],
    "trend": ["invoices_base", "spend_base", "spend_trend"],
    "returns": ["cancel_share"],
    "items": ["items", "max_order"],
    "delivery": ["late_share"],
    "browsing": ["sessions_dormant", "cart_adds_dormant"],
}
LOGGED = {"invoices", "spend", "lines_per_invoice", "median_price", "median_quantity", "months_active"}
LOGGED |= {"invoices_base", "spend_base", "items", "max_order", "sessions_dormant", "cart_adds_dormant"}


@dataclass(frozen=True)
class Window:
    base_start: pd.Timestamp
    months: int

    def _at(self, periods: int) -> pd.Timestamp:
        return self.base_start + pd.DateOffset(months=self.months * periods)

    @property
    def dormant_start(self) -> pd.Timestamp:
        return self._at(1)

    @property
    def target_start(self) -> pd.Timestamp:
        return self._at(2)

    @property
    def target_end(self) -> pd.Timestamp:
        return self._at(3)

    def previous(self) -> Window:
        return Window(self.base_start - pd.DateOffset(months=self.months), self.months)

    def label(self) -> str:
        w = self.describe()
        return ", ".join(f"{name} {start} to {end}" for name, (start, end) in w.items())

    def describe(self) -> dict:
        day = lambda t: t.date().isoformat()  # noqa: E731
        return {
            "base": [day(self.base_start), day(self.dormant_start)],
            "dormant": [day(self.dormant_start), day(self.target_start)],
            "target": [day(self.target_start), day(self.target_end)],
        }


def window_ending(cutoff: pd.Timestamp, months: int, periods_back: int = 0) -> Window:
    """The window whose dormant period ends at ``cutoff`` (shifted back by whole periods)."""
    return Window(cutoff - pd.DateOffset(months=months * (2 + periods_back)), months)


def purchases(lines: pd.DataFrame) -> pd.DataFrame:
    return lines[~lines["cancelled"] & (lines["amount"] > 0)]


def dormant_customers(lines: pd.DataFrame, window: Window) -> pd.Index:
    """Bought in the base period, nothing in the dormant period."""
    bought = purchases(lines)
    in_base = bought[(bought["at"] >= window.base_start) & (bought["at"] < window.dormant_start)]
    in_dormant = bought[(bought["at"] >= window.dormant_start) & (bought["at"] < window.target_start)]
    return pd.Index(sorted(set(in_base["customer_id"]) - set(in_dormant["customer_id"])), name="customer_id")


def outcome(lines: pd.DataFrame, customers: pd.Index, window: Window) -> pd.DataFrame:
    """Whether each customer bought in the target period, and what they spent there."""
    bought = purchases(lines)
    inside = bought[(bought["at"] >= window.target_start) & (bought["at"] < window.target_end)]
    spend = inside.groupby("customer_id")["amount"].sum().reindex(customers).fillna(0.0)
    return pd.DataFrame({"returned": (spend > 0).astype(int), "spend": spend}, index=customers)


def _invoices(history: pd.DataFrame) -> pd.DataFrame:
    keys = ["customer_id", "invoice"]
    return history.groupby(keys).agg(at=("at", "min"), amount=("amount", "sum"), lines=("sku", "size")).reset_index()


def _order_features(invoices: pd.DataFrame, window: Window, cutoff: pd.Timestamp) -> pd.DataFrame:
    per = invoices.groupby("customer_id")
    f = pd.DataFrame(
        {
            "days_since_last": (cutoff - per["at"].max()).dt.days,
            "tenure": (cutoff - per["at"].min()).dt.days,
            "invoices": per.size(),
            "spend": per["amount"].sum(),
            "max_order": per["amount"].max(),
            "lines_per_invoice": per["lines"].mean(),
            "months_active": invoices.assign(m=invoices["at"].dt.to_period("M")).groupby("customer_id")["m"].nunique(),
        }
    )
    f["purchase_rate"] = f["invoices"] / f["tenure"].clip(lower=30) * 30
    base = invoices[(invoices["at"] >= window.base_start) & (invoices["at"] < window.dormant_start)]
    before = invoices[invoices["at"] < window.base_start].groupby("customer_id")["amount"].sum()
    f["invoices_base"] = base.groupby("customer_id").size()
    f["spend_base"] = base.groupby("customer_id")["amount"].sum()
    f["spend_trend"] = f["spend_base"].fillna(0) - before.reindex(f.index).fillna(0)
    return f


def _line_features(history: pd.DataFrame, everything: pd.DataFrame) -> pd.DataFrame:
    per = history.groupby("customer_id")
    unit_price = history["amount"] / history["quantity"].where(history["quantity"] > 0)
    return pd.DataFrame(
        {
            "items": per["sku"].nunique(),
            "median_price": unit_price.groupby(history["customer_id"]).median(),
            "median_quantity": per["quantity"].median(),
            "cancel_share": everything.groupby("customer_id")["cancelled"].mean(),
            "late_share": history.groupby("customer_id")["late"].mean(),
            "country": everything.groupby("customer_id")["country"].agg(lambda s: s.mode().iloc[0] if len(s) else ""),
        }
    )


def _activity_features(activity: pd.DataFrame | None, window: Window) -> pd.DataFrame:
    """Sessions and cart adds in the dormant period (a customer who still browses is closer to buying)."""
    if activity is None or activity.empty:
        return pd.DataFrame(columns=["sessions_dormant", "cart_adds_dormant"])
    dormant = activity[(activity["at"] >= window.dormant_start) & (activity["at"] < window.target_start)]
    counts = dormant.groupby(["customer_id", "kind"]).size().unstack(fill_value=0)
    return pd.DataFrame(
        {
            "sessions_dormant": counts.get("session", pd.Series(dtype=float)),
            "cart_adds_dormant": counts.get("cart_add", pd.Series(dtype=float)),
        }
    )


def window_features(lines: pd.DataFrame, window: Window, activity: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per dormant customer of ``window``; nothing on or after the target start is read."""
    customers = dormant_customers(lines, window)
    if customers.empty:
        raise TransactionError(f"no dormant customers in the window ({window.label()})")
    cutoff = window.target_start
    everything = lines[(lines["at"] < cutoff) & lines["customer_id"].isin(customers)]
    history = purchases(everything)
    features = _order_features(_invoices(history), window, cutoff).join(_line_features(history, everything))
    features = features.join(_activity_features(activity, window)).reindex(customers)
    counts = ["invoices_base", "spend_base", "spend_trend", "cancel_share", "sessions_dormant", "cart_adds_dormant"]
    features[counts] = features[counts].fillna(0.0)
    features["country"] = features["country"].fillna("")
    return features


def numeric(features: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Model input: heavy-tailed counts and amounts on a log scale, the signed trend too; unknowns at 0."""
    matrix = features[columns].astype(float).copy()
    for column in columns:
        if column in LOGGED:
            matrix[column] = np.log1p(matrix[column].clip(lower=0))
    if "spend_trend" in columns:
        matrix["spend_trend"] = np.sign(matrix["spend_trend"]) * np.log1p(matrix["spend_trend"].abs())
    return matrix.fillna(0.0).to_numpy()


def available_groups(features: pd.DataFrame) -> dict[str, list[str]]:
    """The groups with at least one column that varies (delivery dates or browsing may be absent)."""
    return {
        name: columns
        for name, columns in GROUPS.items()
        if any(features[c].notna().any() and features[c].nunique(dropna=True) > 1 for c in columns)
    }
