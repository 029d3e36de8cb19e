"""Checking the weekly promotions' ranking on any shop's order export, at a cut-off of the user's choosing.

The same code path as the portal's weekly job (`model.check`): the regressor is fitted on the window before the
cut-off, the ranking's weights are chosen on that window, and the three offers of every customer, ranked as of
the cut-off, are compared with the region's three best-sellers on the buyers of the window after it (does the
buyer's next order hold an offered category?). Nothing after the cut-off is seen before the comparison.

A file without a category column is grouped like the portal groups an uncategorised catalogue (the first three
characters of the product code), so a hit is "the next order holds a product of that product line".
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from interventions.promotions import model
from interventions.promotions.features import Activity, category_of
from predictions.recommend.model import Params
from predictions.value.transactions import TransactionError, parse_dates

ALL_REGIONS = "all"


class PromotionDataError(TransactionError):
    """The order export cannot be read or is unusable; the message says why."""


@dataclass(frozen=True)
class PurchaseColumns:
    customer: str
    item: str
    date: str
    invoice: str | None = None
    quantity: str | None = None
    category: str | None = None
    price: str | None = None
    region: str | None = None
    date_format: str | None = None

    def named(self) -> list[str]:
        wanted = (self.customer, self.item, self.date, self.invoice, self.quantity, self.category, self.price)
        return [name for name in (*wanted, self.region) if name]


def read_activity(path, columns: PurchaseColumns, *, delimiter: str | None = None) -> Activity:
    """Purchases of the export (cancellations, returns and rows without customer, product or date removed) as the
    promotion features read them; the export has no browsing."""
    raw = _read(path, delimiter)
    missing = [name for name in columns.named() if name not in raw.columns]
    if missing:
        raise PromotionDataError(
            f"column(s) {', '.join(missing)} not in the file; it has: {', '.join(map(str, raw.columns))}"
        )
    quantity = _number(raw[columns.quantity]) if columns.quantity else pd.Series(1.0, index=raw.index)
    price = _number(raw[columns.price]) if columns.price else pd.Series(1.0, index=raw.index)
    sku = raw[columns.item].fillna("").astype(str).str.strip().str.upper()
    category = raw[columns.category].fillna("").astype(str).str.strip() if columns.category else None
    frame = pd.DataFrame(
        {
            "customer_id": raw[columns.customer]
            .fillna("")
            .astype(str)
            .str.strip()
            .str.replace(r"\.0$", "", regex=True),
            "region_id": raw[columns.region].fillna("").astype(str).str.strip() if columns.region else ALL_REGIONS,
            "at": pd.to_datetime(parse_dates(raw[columns.date], columns.date_format), utc=True),
            "category": [category_of(c or None, s or None) for c, s in zip(_or_none(category, sku), sku, strict=True)],
            "sku": sku,
            "amount": quantity * price,
            "quantity": quantity,
            "unit_price": price,
            "invoice": raw[columns.invoice].fillna("").astype(str).str.strip() if columns.invoice else "",
        }
    )
    cancelled = frame["invoice"].str.upper().str.startswith("C")
    empty = frame["customer_id"].str.lower().isin(["", "nan", "none"]) | (frame["sku"] == "")
    frame = frame[~cancelled & ~empty & frame["at"].notna() & (quantity > 0) & (frame["amount"] > 0)]
    if frame.empty:
        raise PromotionDataError("no usable purchases (a customer, a product, a date and a positive quantity)")
    purchases = frame.drop(columns="invoice").reset_index(drop=True)
    browsing = pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=object),
            "region_id": pd.Series(dtype=object),
            "at": pd.Series(dtype="datetime64[ns, UTC]"),
            "category": pd.Series(dtype=object),
            "amount": pd.Series(dtype=float),
        }
    )
    return Activity(purchases, browsing)


def _read(path, delimiter: str | None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding="utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, sep=delimiter or None, engine="python", dtype=str, encoding="latin-1")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PromotionDataError(f"cannot read {path}: {exc}") from exc


def _ids(series: pd.Series) -> pd.Series:
    # numeric ids exported through a spreadsheet come back as "12345.0"
    return series.fillna("").astype(str).str.strip().str.replace(r"\.0$", "", regex=True)


def _number(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.replace(r"[^\d,.\-]", "", regex=True).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _or_none(category: pd.Series | None, sku: pd.Series) -> list:
    return [None] * len(sku) if category is None else list(category)


def evaluate(activity: Activity, cutoff: pd.Timestamp, window_days: int) -> dict:
    """The holdout comparison at `cutoff`: offers against best-sellers on the buyers of the following window."""
    if cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize("UTC")
    # the recommender's default settings: a registry's active version belongs to the portal's shop, not this file
    report = model.check(activity, cutoff, window_days, Params()).report
    if "next_purchase_buyers" not in report:
        raise model.PromotionModelError(
            f"no customer with a history before {cutoff.date()} bought in the window after it"
        )
    return {
        "users": report["next_purchase_buyers"],
        "hit_rate": report["next_purchase_hit_rate"],
        "best_sellers_hit_rate": report["best_sellers_next_purchase_hit_rate"],
        "margin": report["next_purchase_margin"],
        "margin_low": report["next_purchase_margin_low"],
        "margin_high": report["next_purchase_margin_high"],
        "cutoff": cutoff.date().isoformat(),
        "window_days": window_days,
        "regions": int(activity.purchases["region_id"].nunique()),
        "ranker": report["ranker"],
        "holdout": report,
    }
