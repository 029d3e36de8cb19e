"""Order lines as one tidy frame for win-back features: customer_id, invoice, at, sku, quantity, amount, cancelled,
country and, where known, late (delivered after the promised date).

From a CSV file (the same column mapping as ``forecast_value``) or from the database (already region-scoped)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictions.value import transactions as tx
from predictions.value.transactions import ColumnMap, TransactionError

COLUMNS = ["customer_id", "invoice", "at", "sku", "quantity", "amount", "cancelled", "country", "late"]
EXTRA_GUESSES = {
    "sku": ["stockcode", "sku", "product_id", "item_id", "product"],
    "country": ["country", "region", "customer_state", "state"],
}


def _pick(names: list[str], role: str) -> str | None:
    lowered = {c.lower().strip(): c for c in names}
    return next((lowered[n] for n in EXTRA_GUESSES[role] if n in lowered), None)


def _read(path, delimiter: str | None, encoding: str | None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding=encoding or "utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding="latin-1")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TransactionError(f"cannot read {path}: {exc}") from exc


def _columns(raw: pd.DataFrame, columns: ColumnMap) -> dict[str, str | None]:
    names = list(raw.columns)
    pick = {role: getattr(columns, role) or tx._guess(names, role) for role in tx.GUESSES}
    for role, column in pick.items():
        if column and column not in raw.columns:
            raise TransactionError(f"column {column!r} (for {role}) is not in the file; it has: {', '.join(names)}")
    if not pick["customer"] or not pick["date"]:
        raise TransactionError("give --customer-col and --date-col (they could not be guessed from the header)")
    if not (pick["amount"] and not columns.quantity) and not (pick["quantity"] and pick["price"]):
        raise TransactionError("give --amount-col, or --quantity-col and --price-col")
    pick.update({role: _pick(names, role) for role in EXTRA_GUESSES})
    return pick


def from_file(path, columns: ColumnMap, *, delimiter: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    raw = _read(path, delimiter, encoding)
    pick = _columns(raw, columns)
    if pick["amount"] and not columns.quantity:
        amount = tx._number(raw[pick["amount"]])
        quantity = tx._number(raw[pick["quantity"]]) if pick["quantity"] else pd.Series(1.0, index=raw.index)
    else:
        quantity = tx._number(raw[pick["quantity"]])
        amount = quantity * tx._number(raw[pick["price"]])
    customer = raw[pick["customer"]].astype(str).str.strip().str.replace(r"\.0$", "", regex=True)
    at = tx.parse_dates(raw[pick["date"]], columns.date_format)
    invoice = (
        raw[pick["invoice"]].astype(str).str.strip() if pick["invoice"] else customer + "@" + at.dt.date.astype(str)
    )
    frame = pd.DataFrame(
        {
            "customer_id": customer,
            "invoice": invoice,
            "at": at,
            "sku": raw[pick["sku"]].astype(str) if pick["sku"] else "",
            "quantity": quantity,
            "amount": amount,
            # the Online Retail convention: invoice numbers starting with "C" cancel; a negative line returns
            "cancelled": invoice.str.upper().str.startswith("C") | (amount < 0),
            "country": raw[pick["country"]].fillna("").astype(str).str.strip() if pick["country"] else "",
            "late": np.nan,
        }
    )
    return clean(frame)


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop lines without a customer, a date or an amount; dates become naive (the shop's own clock)."""
    frame = frame.dropna(subset=["at", "amount"])
    frame = frame[(frame["customer_id"] != "") & (frame["customer_id"].str.lower() != "nan") & (frame["amount"] != 0)]
    if frame.empty or not (~frame["cancelled"]).any():
        raise TransactionError("no usable order lines (customer, date and a non-zero amount are needed)")
    if getattr(frame["at"].dt, "tz", None) is not None:
        frame = frame.assign(at=frame["at"].dt.tz_convert(None))
    return frame[COLUMNS].sort_values(["customer_id", "at"]).reset_index(drop=True)


def from_database(order_lines, orders) -> pd.DataFrame:
    """``order_lines`` / ``orders``: querysets the caller has already restricted to what it may read.
    Orders that carry no lines count as one line of their total."""
    fields = ["order__customer__external_id", "order__external_id", "order__placed_at", "sku", "quantity", "amount"]
    fields += ["order__status", "order__region__code", "order__delivered_at", "order__promised_at"]
    line_rows = list(order_lines.filter(order__customer__isnull=False).values_list(*fields))
    order_fields = ["customer__external_id", "external_id", "placed_at", "total", "status", "region__code"]
    order_fields += ["delivered_at", "promised_at"]
    bare = orders.filter(customer__isnull=False, lines__isnull=True).values_list(*order_fields)
    rows = line_rows + [(c, o, at, "", 1, total, st, rc, d, p) for c, o, at, total, st, rc, d, p in bare]
    if not rows:
        raise TransactionError("no orders with a customer in this scope; import transactions first")
    raw = pd.DataFrame(
        rows,
        columns=["customer_id", "invoice", "at", "sku", "quantity", "amount", "status"]
        + ["country", "delivered", "promised"],
    )
    raw["amount"] = raw["amount"].astype(float)
    raw["at"] = pd.to_datetime(raw["at"], utc=True)
    delivered, promised = pd.to_datetime(raw["delivered"], utc=True), pd.to_datetime(raw["promised"], utc=True)
    raw["late"] = np.where(delivered.notna() & promised.notna(), (delivered > promised).astype(float), np.nan)
    raw["cancelled"] = raw["status"].isin(["cancelled", "returned"]) | (raw["amount"] < 0)
    return clean(raw)
