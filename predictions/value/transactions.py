"""Transaction histories as one tidy frame: customer_id, at (timestamp), amount.

From the database (orders of customers, cancelled and returned orders left out) or straight from a CSV
file with the same column-mapping idea as ``import_transactions``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartportal.errors import AppError


class TransactionError(AppError, ValueError):
    """The transactions cannot be read; the message says why."""


@dataclass
class ColumnMap:
    customer: str | None = None
    date: str | None = None
    amount: str | None = None
    quantity: str | None = None
    price: str | None = None
    invoice: str | None = None
    date_format: str | None = None


GUESSES = {
    "customer": ["customerid", "customer_id", "customer", "client_id", "customer_unique_id", "user_id"],
    "date": ["invoicedate", "date", "order_date", "placed_at", "order_purchase_timestamp", "timestamp", "created_at"],
    "amount": ["amount", "total", "revenue", "sales", "payment_value", "spend", "value"],
    "quantity": ["quantity", "qty"],
    "price": ["unitprice", "unit_price", "price"],
    "invoice": ["invoiceno", "invoice", "order_id", "orderid", "order", "invoice_id"],
}


def _guess(columns: list[str], role: str) -> str | None:
    lowered = {c.lower().strip(): c for c in columns}
    for name in GUESSES[role]:
        if name in lowered:
            return lowered[name]
    return None


def from_file(path, columns: ColumnMap, *, delimiter: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding=encoding or "utf-8-sig")
    except UnicodeDecodeError:
        raw = pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding="latin-1")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TransactionError(f"cannot read {path}: {exc}") from exc
    names = list(raw.columns)
    pick = {role: getattr(columns, role) or _guess(names, role) for role in GUESSES}
    for role, column in pick.items():
        if column and column not in raw.columns:
            raise TransactionError(f"column {column!r} (for {role}) is not in the file; it has: {', '.join(names)}")
    if not pick["customer"] or not pick["date"]:
        raise TransactionError("give --customer-col and --date-col (they could not be guessed from the header)")
    if pick["amount"] and not columns.quantity:
        amount = _number(raw[pick["amount"]])
    elif pick["quantity"] and pick["price"]:
        amount = _number(raw[pick["quantity"]]) * _number(raw[pick["price"]])
    else:
        raise TransactionError("give --amount-col, or --quantity-col and --price-col")
    frame = pd.DataFrame(
        {
            "customer_id": raw[pick["customer"]].astype(str).str.strip().str.replace(r"\.0$", "", regex=True),
            "at": parse_dates(raw[pick["date"]], columns.date_format),
            "amount": amount,
        }
    )
    if pick["invoice"]:
        # cancellations in the Online Retail convention: invoice numbers starting with "C"
        frame = frame[~raw[pick["invoice"]].astype(str).str.upper().str.startswith("C")]
    return clean(frame)


def _number(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.replace(r"[^\d,.\-]", "", regex=True)
    comma_decimal = text.str.contains(r",\d{1,2}$") & ~text.str.contains(r"\.")
    text = text.where(~comma_decimal, text.str.replace(",", ".", regex=False)).str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce")


def parse_dates(series: pd.Series, date_format: str | None = None) -> pd.Series:
    if date_format:
        return pd.to_datetime(series, format=date_format, errors="coerce")
    parsed = pd.to_datetime(series, format="ISO8601", errors="coerce")
    if parsed.isna().mean() > 0.5:
        day_first = pd.to_datetime(series, dayfirst=True, errors="coerce")
        month_first = pd.to_datetime(series, dayfirst=False, errors="coerce")
        parsed = day_first if day_first.notna().sum() >= month_first.notna().sum() else month_first
    return parsed


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and day (a purchase occasion).

    A row without a customer or a date is dropped; a negative amount is a return, not a purchase. A zero amount
    (a free sample, a fully discounted order) is still a purchase: it counts for frequency and recency, and so
    does a row whose amount cannot be read (its spend counts as 0), so every customer who bought gets a row."""
    frame = frame.dropna(subset=["at"])
    frame = frame[(frame["customer_id"] != "") & (frame["customer_id"].str.lower() != "nan")]
    frame = frame[~(frame["amount"] < 0)].assign(amount=frame["amount"].fillna(0.0))
    if frame.empty:
        raise TransactionError("no usable transactions (a customer, a date and an amount that is not negative)")
    if getattr(frame["at"].dt, "tz", None) is not None:
        frame = frame.assign(at=frame["at"].dt.tz_convert(None))
    daily = frame.assign(day=frame["at"].dt.normalize()).groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    return daily.rename(columns={"day": "at"}).sort_values(["customer_id", "at"]).reset_index(drop=True)


def from_orders(orders) -> pd.DataFrame:
    """``orders``: an Order queryset already restricted to what the caller may read."""
    rows = orders.exclude(customer__isnull=True).exclude(status__in=["cancelled", "returned"])
    values = list(rows.values_list("customer__external_id", "placed_at", "total"))
    if not values:
        raise TransactionError("no orders with a customer in the database; import transactions first or use --file")
    frame = pd.DataFrame(values, columns=["customer_id", "at", "amount"])
    frame["amount"] = frame["amount"].astype(float)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return clean(frame)


def history_until(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    return frame[frame["at"] < cutoff]


def window(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return frame[(frame["at"] >= start) & (frame["at"] < end)]


def outcome(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, customers: pd.Index) -> pd.DataFrame:
    """Actual purchases and spend of ``customers`` in [start, end)."""
    inside = window(frame, start, end).groupby("customer_id")["amount"].agg(["count", "sum"])
    inside = inside.reindex(customers).fillna(0)
    return pd.DataFrame({"purchases": inside["count"].to_numpy(), "spend": inside["sum"].to_numpy()}, index=customers)


def rfm_summary(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per customer with a purchase before ``cutoff``: frequency (repeat purchase days), recency and age in days,
    mean spend of repeat purchases (all purchases when there is no repeat)."""
    past = history_until(frame, cutoff)
    if past.empty:
        raise TransactionError(f"no purchases before the cut-off {cutoff.date()}")
    grouped = past.groupby("customer_id")
    first, last = grouped["at"].min(), grouped["at"].max()
    count = grouped.size()
    total, first_amount = grouped["amount"].sum(), grouped["amount"].first()
    summary = pd.DataFrame(
        {
            "frequency": (count - 1).astype(float),
            "recency": (last - first).dt.days.astype(float),
            "T": (cutoff - first).dt.days.astype(float),
            "monetary": np.where(count > 1, (total - first_amount) / (count - 1).clip(lower=1), total),
            "total_spend": total,
            "purchases": count.astype(float),
        }
    )
    return summary
