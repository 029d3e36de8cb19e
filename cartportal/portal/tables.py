"""The insight tables as CSV: `?format=csv&table=<name>` exports the same rows the page shows."""

from __future__ import annotations

from collections.abc import Callable

from cartportal.pages.export import csv_response

Rows = Callable[[dict], list[list]]


def _categories(d):
    return [[c["category"], c["orders"], c["customers"], c["revenue"], c["share"]] for c in d["affinity"]["categories"]]


def _pairs(d):
    return [
        [p["first"], p["second"], p["together"], p["support"], p["confidence"], p["lift"]]
        for p in d["affinity"]["pairs"]
    ]


def _discounts(d):
    return [[b["band"], b["adds"], b["purchased"], b["purchase_rate"]] for b in d["price"]["discount"]]


def _quartiles(d):
    return [
        [q["quartile"], q["price_from"], q["price_to"], q["adds"], q["purchased"], q["purchase_rate"]]
        for q in d["price"]["quartiles"]
    ]


def _depth(d):
    return [
        [
            s["segment"],
            s["sessions"],
            s["avg_pages"],
            s["avg_product_pages"],
            s["avg_product_minutes"],
            s["conversion_rate"],
        ]
        for s in d["depth"]["segments"]
    ]


def _frequency(d):
    return [
        [m["month"], m["orders"], m["customers"], m["returning"], m["orders_per_customer"], m["returning_share"]]
        for m in d["frequency"]["months"]
    ]


def _survey(d):
    return [
        [q["question"], c["answer"], c["count"], c["share"]] for q in d["survey"]["questions"] for c in q["choices"]
    ]


# name: (title, header, rows)
INSIGHT_TABLES: dict[str, tuple[str, list[str], Rows]] = {
    "categories": ("Categories", ["category", "orders", "customers", "revenue", "share_of_orders"], _categories),
    "pairs": ("Category pairs", ["first", "second", "orders_together", "support", "confidence", "lift"], _pairs),
    "discounts": ("Discount bands", ["band", "cart_adds", "purchased", "purchase_rate"], _discounts),
    "price_quartiles": (
        "Price quartiles",
        ["quartile", "price_from", "price_to", "cart_adds", "purchased", "purchase_rate"],
        _quartiles,
    ),
    "depth": (
        "Browsing depth",
        ["segment", "sessions", "avg_pages", "avg_product_pages", "avg_product_minutes", "conversion_rate"],
        _depth,
    ),
    "frequency": (
        "Purchase frequency",
        ["month", "orders", "customers", "returning_customers", "orders_per_customer", "returning_share"],
        _frequency,
    ),
    "survey": ("Survey answers", ["question", "answer", "respondents", "share"], _survey),
}


def insight_csv(data: dict, table: str, region_code: str = ""):
    name = table if table in INSIGHT_TABLES else "categories"
    _, header, rows = INSIGHT_TABLES[name]
    suffix = f"-{region_code}" if region_code else ""
    return csv_response(f"insights-{name}{suffix}.csv", header, rows(data))
