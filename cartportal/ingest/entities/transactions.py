"""Transactions: one row per order line, the shape of most shop exports; cancellations become cancelled
orders linked to what they cancel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import EntitySpec, Field
from .base import (
    KEY_LENGTH,
    REGION,
    TOTAL,
    UNIT_PRICE,
    Loader,
    column_or,
    content_key,
    overflow_problems,
    text_or_none,
)
from .orders import stage_touched_orders


class TransactionLoader(Loader):
    spec = EntitySpec(
        "transactions",
        "Transactions (order lines)",
        (
            Field(
                "invoice",
                synonyms=("invoiceno", "invoice_no", "order_id", "orderid", "order", "transaction_id"),
                max_length=KEY_LENGTH,
            ),
            Field(
                "customer",
                required=True,
                synonyms=("customerid", "customer_id", "client_id", "user_id"),
                max_length=KEY_LENGTH,
            ),
            Field(
                "date",
                "datetime",
                required=True,
                synonyms=("invoicedate", "invoice_date", "order_date", "date", "timestamp", "purchase_date"),
            ),
            Field("product", synonyms=("stockcode", "sku", "product_id", "item_id", "article"), max_length=KEY_LENGTH),
            Field("description", synonyms=("description", "product_name", "item_name", "title")),
            Field("quantity", "int", synonyms=("quantity", "qty", "units")),
            Field(
                "price",
                "decimal",
                min=0,
                digits=UNIT_PRICE,
                synonyms=("unitprice", "unit_price", "price", "item_price"),
            ),
            Field("amount", "decimal", digits=TOTAL, synonyms=("amount", "total", "revenue", "sales", "line_total")),
            REGION,
        ),
        key=("invoice", "product", "quantity", "price", "amount", "date", "customer"),
        help="One row per order line. Cancellations (invoice starting with C, negative quantity or amount) are "
        "recorded as cancelled orders.",
    )
    table = "cartportal_orderline"
    analyze_tables = ["cartportal_customer", "cartportal_product", "cartportal_order", "cartportal_orderline"]
    staging = [
        ("line", "int"),
        ("customer", "text"),
        ("region_id", "int"),
        ("placed", "timestamptz"),
        ("invoice", "text"),
        ("sku", "text"),
        ("description", "text"),
        ("quantity", "int"),
        ("unit_price", "numeric"),
        ("amount", "numeric"),
        ("is_cancel", "bool"),
        ("source_key", "text"),
    ]

    def prepare(self, parsed, context):
        extra = []
        has_amount = "amount" in parsed and parsed["amount"].notna()
        has_qty_price = (
            parsed.get("quantity", pd.Series(np.nan, index=parsed.index)).notna()
            & parsed.get("price", pd.Series(np.nan, index=parsed.index)).notna()
        )
        missing = ~(has_qty_price | has_amount) if isinstance(has_amount, pd.Series) else ~has_qty_price
        for pos in np.flatnonzero(missing.to_numpy()):
            extra.append((pos, "quantity", "missing_required", "Needs an amount, or a quantity and a price."))
        quantity = parsed.get("quantity", pd.Series(np.nan, index=parsed.index))
        zero = (quantity == 0).to_numpy()
        for pos in np.flatnonzero(zero):
            extra.append((pos, "quantity", "out_of_range", "Quantity is 0."))
        frame = parsed.copy()
        frame["quantity"] = quantity.fillna(1).astype("int64")
        price = parsed.get("price", pd.Series(np.nan, index=parsed.index))
        amount = parsed.get("amount", pd.Series(np.nan, index=parsed.index))
        frame["amount"] = amount.where(amount.notna(), frame["quantity"] * price).round(2)
        frame["unit_price"] = price.where(price.notna(), (frame["amount"] / frame["quantity"]).abs())
        extra += overflow_problems(
            [
                ("amount", frame["amount"], TOTAL, "The line's amount (quantity × price)"),
                ("price", frame["unit_price"], UNIT_PRICE, "The unit price (amount ÷ quantity)"),
            ]
        )
        invoice = text_or_none(column_or(parsed, "invoice"))
        synthetic = parsed["customer"].astype(str) + "-" + parsed["date"].dt.strftime("%Y%m%d%H%M%S")
        frame["invoice"] = invoice.where(invoice.notna(), synthetic)
        frame["is_cancel"] = (
            frame["invoice"].astype(str).str.upper().str.startswith("C")
            | (frame["quantity"] < 0)
            | (frame["amount"] < 0)
        )
        frame["source_key"] = content_key(
            parsed.assign(invoice=frame["invoice"]), [c for c in self.spec.key if c in parsed] + ["invoice"]
        )
        out = pd.DataFrame(
            {
                "line": context.lines,
                "customer": parsed["customer"],
                "region_id": context.region_ids,
                "placed": parsed["date"],
                "invoice": frame["invoice"],
                "sku": text_or_none(column_or(parsed, "product")),
                "description": text_or_none(
                    parsed.get("description", pd.Series(None, index=parsed.index, dtype=object))
                ),
                "quantity": frame["quantity"],
                "unit_price": frame["unit_price"].round(4),
                "amount": frame["amount"],
                "is_cancel": frame["is_cancel"],
                "source_key": frame["source_key"],
            }
        )
        return out, extra

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_customer (external_id, region_id, name, email, first_seen, acquisition_source,
                device, age_band, gender, consent_personalisation, consent_marketing)
            SELECT DISTINCT ON (customer) customer, region_id, '', '', placed, '', '', '', '', false, false
            FROM stg ORDER BY customer, placed
            ON CONFLICT (external_id) DO NOTHING""")
        cursor.execute("""
            UPDATE cartportal_customer c SET first_seen = m.first FROM
                (SELECT customer, min(placed) AS first FROM stg GROUP BY customer) m
            WHERE c.external_id = m.customer AND (c.first_seen IS NULL OR c.first_seen > m.first)""")
        cursor.execute("""
            INSERT INTO cartportal_product (sku, name, category, price, house_brand)
            SELECT DISTINCT ON (sku) sku, left(coalesce(description, ''), 300), '', unit_price, false
            FROM stg WHERE sku IS NOT NULL AND NOT is_cancel ORDER BY sku, placed DESC
            ON CONFLICT (sku) DO NOTHING""")
        cursor.execute("""
            INSERT INTO cartportal_order (external_id, customer_id, region_id, placed_at, freight, total, status)
            SELECT DISTINCT ON (s.invoice) s.invoice, c.id, s.region_id, s.placed, 0, 0,
                CASE WHEN s.is_cancel THEN 'cancelled' ELSE 'placed' END
            FROM stg s JOIN cartportal_customer c ON c.external_id = s.customer
            ORDER BY s.invoice, s.placed
            ON CONFLICT (external_id) DO NOTHING""")
        stage_touched_orders(
            cursor, cancels="o.status = 'cancelled' AND o.external_id IN (SELECT invoice FROM stg WHERE is_cancel)"
        )
        # Line numbers continue after an order's existing lines, looked up once per order before the insert: a
        # lookup inside the INSERT would rescan the table it is filling, once per row, when the statistics
        # (taken while the table was empty) make a sequential scan look free.
        cursor.execute("""
            WITH added AS (
                INSERT INTO cartportal_orderline (order_id, region_id, line_no, product_id, sku, quantity,
                    unit_price, amount, source_key)
                SELECT t.id, s.region_id, t.last_line + row_number() OVER (PARTITION BY s.invoice ORDER BY s.line),
                    p.id, coalesce(s.sku, ''), s.quantity, s.unit_price, s.amount, s.source_key
                FROM stg s JOIN stg_orders t ON t.invoice = s.invoice
                LEFT JOIN cartportal_product p ON p.sku = s.sku
                ON CONFLICT DO NOTHING
                RETURNING source_key)
            SELECT count(*) FILTER (WHERE NOT s.is_cancel), count(*) FILTER (WHERE s.is_cancel)
            FROM added a JOIN stg s ON s.source_key = a.source_key""")
        loaded, cancellations = cursor.fetchone()
        _link_cancellations(cursor)
        # Correlated sums use the order_id index whatever the table statistics say (fresh tables have none).
        cursor.execute("""
            UPDATE cartportal_order o SET total = (SELECT coalesce(sum(l.amount), 0) FROM cartportal_orderline l
                                                   WHERE l.order_id = o.id)
            FROM stg_orders t WHERE o.id = t.id""")
        return {"loaded": loaded, "cancellations": cancellations}


def _link_cancellations(cursor) -> None:
    """Point each new cancellation at the order it cancels, where that can be told: the invoice without its
    leading C, else the customer's latest earlier order that has a line of a cancelled product.

    Both statements start from the chunk's few cancellations and reach every other row through an index (the
    invoice number; the customer's orders newest first, stopping at the first match), so their plans do not
    depend on how fresh the tables' statistics are."""
    cursor.execute("""
        UPDATE cartportal_order c SET cancels_id = (
            SELECT o.id FROM cartportal_order o WHERE o.external_id = substr(t.invoice, 2) AND o.id <> t.id)
        FROM stg_orders t
        WHERE c.id = t.id AND t.cancels AND c.cancels_id IS NULL
          AND upper(left(t.invoice, 1)) = 'C' AND length(t.invoice) > 1""")
    cursor.execute("""
        WITH cancels AS MATERIALIZED (
            SELECT t.id, t.customer_id, t.placed_at FROM stg_orders t JOIN cartportal_order c ON c.id = t.id
            WHERE t.cancels AND c.cancels_id IS NULL),
        matched AS MATERIALIZED (
            SELECT DISTINCT ON (x.id) x.id AS cancel_id, o.id AS original
            FROM cancels x
            JOIN cartportal_orderline xl ON xl.order_id = x.id AND xl.sku <> ''
            CROSS JOIN LATERAL (
                SELECT o.id, o.placed_at FROM cartportal_order o
                WHERE o.customer_id = x.customer_id AND o.placed_at <= x.placed_at AND o.id <> x.id
                  AND o.status <> 'cancelled'
                  AND EXISTS (SELECT 1 FROM cartportal_orderline ol
                              WHERE ol.order_id = o.id AND ol.sku = xl.sku AND ol.quantity > 0)
                ORDER BY o.placed_at DESC, o.id DESC LIMIT 1) o
            ORDER BY x.id, o.placed_at DESC, o.id DESC)
        UPDATE cartportal_order c SET cancels_id = m.original FROM matched m WHERE c.id = m.cancel_id""")
