"""Purchase interactions as one tidy frame: customer_id, item, at, invoice, quantity.

From a CSV file (any shop's export: the column names are given or guessed) or from the database's order
lines. Cancellations and returns are removed: an invoice starting with "C" (the Online Retail convention),
a non-positive quantity, or a cancelled or returned order.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from predictions.abandonment.cart.features import shipping_skus
from predictions.value.transactions import TransactionError, parse_dates

COLUMNS = ["customer_id", "item", "at", "invoice", "quantity"]


class InteractionError(TransactionError):
    """The purchase history cannot be read or is unusable; the message says why."""


@dataclass(frozen=True)
class InteractionColumns:
    customer: str
    item: str
    date: str
    invoice: str | None = None
    quantity: str | None = None
    date_format: str | None = None


def read_file(path, columns: InteractionColumns, *, delimiter: str | None = None) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raw = pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding="latin-1")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InteractionError(f"cannot read {path}: {exc}") from exc
    named = [columns.customer, columns.item, columns.date, columns.invoice, columns.quantity]
    missing = [name for name in named if name and name not in raw.columns]
    if missing:
        raise InteractionError(
            f"column(s) {', '.join(missing)} not in the file; it has: {', '.join(map(str, raw.columns))}"
        )
    frame = pd.DataFrame(
        {
            "customer_id": _ids(raw[columns.customer]),
            "item": raw[columns.item].fillna("").astype(str).str.strip().str.upper(),
            "at": parse_dates(raw[columns.date], columns.date_format),
            "invoice": raw[columns.invoice].fillna("").astype(str).str.strip() if columns.invoice else "",
            "quantity": _quantity(raw[columns.quantity]) if columns.quantity else 1.0,
        }
    )
    return clean(frame)


def _ids(series: pd.Series) -> pd.Series:
    # numeric ids exported through a spreadsheet come back as "12345.0"
    return series.fillna("").astype(str).str.strip().str.replace(r"\.0$", "", regex=True)


def _quantity(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.replace(r"[^\d,.\-]", "", regex=True).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Purchases only: drop cancellations and returns, rows without customer, item or date."""
    frame = frame.dropna(subset=["at", "quantity"])
    cancelled = frame["invoice"].astype(str).str.upper().str.startswith("C")
    empty = frame["customer_id"].str.lower().isin(["", "nan", "none"]) | frame["item"].isin(["", "NAN", "NONE"])
    frame = frame[~cancelled & ~empty & (frame["quantity"] > 0)]
    if frame.empty:
        raise InteractionError("no usable purchases (a customer, an item, a date and a positive quantity are needed)")
    if getattr(frame["at"].dt, "tz", None) is not None:
        frame = frame.assign(at=frame["at"].dt.tz_convert(None))
    return frame[COLUMNS].sort_values(["at", "customer_id"]).reset_index(drop=True)


def from_order_lines(lines) -> pd.DataFrame:
    """`lines`: an OrderLine queryset already restricted to what the caller may read."""
    rows = (
        lines.exclude(order__customer__isnull=True)
        .exclude(order__status__in=["cancelled", "returned"])
        .exclude(order__customer__erased_at__isnull=False)
        .values_list("order__customer_id", "sku", "order__placed_at", "order_id", "quantity")
    )
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    if frame.empty:
        raise InteractionError("no order lines with a customer yet; import transactions first")
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["item"] = frame["item"].astype(str).str.strip().str.upper()
    # a shipping line is a charge, not a product to recommend
    is_shipping = frame["item"].isin(shipping_skus())
    frame = frame[~is_shipping].copy()
    frame["invoice"] = frame["invoice"].astype(str)
    frame["quantity"] = frame["quantity"].astype(float)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return clean(frame)


def before(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    return frame[frame["at"] < cutoff]


def between(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp | None = None) -> pd.DataFrame:
    inside = frame["at"] >= start
    if end is not None:
        inside &= frame["at"] < end
    return frame[inside]
