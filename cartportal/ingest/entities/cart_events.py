"""Cart events: adds, removes, checkouts and purchases with the price at that moment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import EntitySpec, Field
from .base import KEY_LENGTH, MONEY, REGION, Loader, column_or, content_key, whole_numbers

EVENT_KINDS = {
    "add": "add",
    "add_to_cart": "add",
    "addtocart": "add",
    "cart_add": "add",
    "added": "add",
    "remove": "remove",
    "remove_from_cart": "remove",
    "removefromcart": "remove",
    "cart_remove": "remove",
    "checkout": "checkout",
    "begin_checkout": "checkout",
    "checkout_start": "checkout",
    "purchase": "purchase",
    "order": "purchase",
    "buy": "purchase",
    "transaction": "purchase",
}


class CartEventLoader(Loader):
    spec = EntitySpec(
        "cart_events",
        "Cart events",
        (
            Field("event_id", synonyms=("id", "eventid"), max_length=40),
            Field("session", synonyms=("session_id", "sessionid", "visit_id"), max_length=KEY_LENGTH),
            Field("customer", synonyms=("customer_id", "customerid", "user_id"), max_length=KEY_LENGTH),
            Field("sku", synonyms=("product", "product_id", "stockcode", "item_id"), max_length=KEY_LENGTH),
            Field("kind", "choice", required=True, choices=EVENT_KINDS, synonyms=("event", "event_type", "action")),
            Field("price", "decimal", min=0, digits=MONEY, synonyms=("unit_price", "unitprice")),
            Field("quantity", "int", min=1, synonyms=("qty",)),
            Field("occurred_at", "datetime", required=True, synonyms=("timestamp", "time", "event_time", "date")),
            REGION,
        ),
        key=("session", "customer", "sku", "kind", "price", "quantity", "occurred_at"),
        help="add, remove, checkout and purchase events with the price at that moment. The region comes from the "
        "column, the session, the customer, or the import's region.",
    )
    table = "cartportal_cartevent"
    staging = [
        ("line", "int"),
        ("session", "text"),
        ("customer", "text"),
        ("sku", "text"),
        ("kind", "text"),
        ("unit_price", "numeric"),
        ("quantity", "int"),
        ("occurred_at", "timestamptz"),
        ("region_id", "int"),
        ("source_key", "text"),
    ]
    references = [
        ("session", "cartportal_session", "external_id", "session"),
        ("customer", "cartportal_customer", "external_id", "customer"),
        ("sku", "cartportal_product", "sku", "sku"),
    ]
    region_from = [("session", "cartportal_session", "external_id"), ("customer", "cartportal_customer", "external_id")]
    direct = True  # high volume: COPY straight into the table (see pipeline.direct)
    direct_columns = [
        ("session_id", "bigint"),
        ("customer_id", "bigint"),
        ("region_id", "bigint"),
        ("product_id", "bigint"),
        ("kind", "text"),
        ("unit_price", "numeric"),
        ("quantity", "int"),
        ("occurred_at", "timestamptz"),
        ("source_key", "text"),
    ]

    @staticmethod
    def direct_rows(staged: pd.DataFrame, ids: dict[str, np.ndarray], region: np.ndarray) -> pd.DataFrame:
        """The rows as the table holds them; ids are floats with NaN gaps, written as whole numbers or NULL."""
        rows = staged[["kind", "unit_price", "quantity", "occurred_at", "source_key"]].reset_index(drop=True)
        for name, values in (
            ("session_id", ids["session"]),
            ("customer_id", ids["customer"]),
            ("region_id", region),
            ("product_id", ids["sku"]),
        ):
            rows[name] = values
        return rows

    def prepare(self, parsed, context):
        event_id = column_or(parsed, "event_id")
        keys = event_id.copy()
        no_id = event_id.isna().to_numpy()
        if no_id.any():  # hash the content only where the export has no event id
            keys[no_id] = content_key(parsed[no_id], [c for c in self.spec.key if c in parsed])
        out = pd.DataFrame(
            {
                "line": context.lines,
                "session": column_or(parsed, "session"),
                "customer": column_or(parsed, "customer"),
                "sku": column_or(parsed, "sku"),
                "kind": parsed["kind"],
                "unit_price": column_or(parsed, "price"),
                "quantity": whole_numbers(column_or(parsed, "quantity"), default=1),
                "occurred_at": parsed["occurred_at"],
                "region_id": context.region_ids,
                "source_key": keys,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_cartevent (session_id, customer_id, region_id, product_id, kind, unit_price,
                quantity, occurred_at, source_key)
            SELECT se.id, c.id, s.region_id, p.id, s.kind, s.unit_price, s.quantity, s.occurred_at, s.source_key
            FROM stg s
            LEFT JOIN cartportal_session se ON se.external_id = s.session
            LEFT JOIN cartportal_customer c ON c.external_id = s.customer
            LEFT JOIN cartportal_product p ON p.sku = s.sku
            ON CONFLICT (source_key) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}
