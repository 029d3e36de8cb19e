"""Orders (order-level exports with promised and delivered dates, freight) and their items."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import (
    KEY_LENGTH,
    MONEY,
    REGION,
    TOTAL,
    UNIT_PRICE,
    Loader,
    column_or,
    content_key,
    overflow_problems,
    whole_numbers,
)

ORDER_STATUSES = {
    "placed": "placed",
    "created": "placed",
    "approved": "placed",
    "processing": "placed",
    "invoiced": "placed",
    "shipped": "shipped",
    "delivered": "delivered",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "unavailable": "cancelled",
    "returned": "returned",
}


class OrderLoader(Loader):
    spec = EntitySpec(
        "orders",
        "Orders",
        (
            Field("order", required=True, synonyms=("order_id", "orderid", "invoice", "invoiceno"), max_length=64),
            Field("customer", required=True, synonyms=("customer_id", "customerid"), max_length=KEY_LENGTH),
            Field("status", "choice", choices=ORDER_STATUSES, synonyms=("order_status",)),
            Field(
                "placed_at",
                "datetime",
                required=True,
                synonyms=("order_purchase_timestamp", "order_date", "purchase_date", "created_at"),
            ),
            Field(
                "promised_at",
                "datetime",
                allow_future=True,
                synonyms=("order_estimated_delivery_date", "estimated_delivery", "promised_date"),
            ),
            Field("shipped_at", "datetime", synonyms=("order_delivered_carrier_date", "shipped_date")),
            Field("delivered_at", "datetime", synonyms=("order_delivered_customer_date", "delivered_date")),
            Field("freight", "decimal", min=0, digits=MONEY, synonyms=("freight_value", "shipping", "shipping_cost")),
            Field("total", "decimal", digits=TOTAL, synonyms=("order_total", "amount", "payment_value")),
            REGION,
        ),
        key=("order",),
    )
    table = "cartportal_order"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("customer", "text"),
        ("status", "text"),
        ("placed_at", "timestamptz"),
        ("promised_at", "timestamptz"),
        ("shipped_at", "timestamptz"),
        ("delivered_at", "timestamptz"),
        ("freight", "numeric"),
        ("total", "numeric"),
        ("region_id", "int"),
    ]
    references = [("customer", "cartportal_customer", "external_id", "customer")]
    region_from = [("customer", "cartportal_customer", "external_id")]

    def prepare(self, parsed, context):
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": parsed["order"],
                "customer": parsed["customer"],
                "status": column_or(parsed, "status", "placed").fillna("placed"),
                "placed_at": parsed["placed_at"],
                "promised_at": column_or(parsed, "promised_at"),
                "shipped_at": column_or(parsed, "shipped_at"),
                "delivered_at": column_or(parsed, "delivered_at"),
                "freight": column_or(parsed, "freight", 0).fillna(0),
                "total": column_or(parsed, "total", 0).fillna(0),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_order (external_id, customer_id, region_id, status, placed_at, promised_at,
                shipped_at, delivered_at, freight, total)
            SELECT s.external_id, c.id, s.region_id, s.status, s.placed_at, s.promised_at, s.shipped_at,
                s.delivered_at, s.freight, s.total
            FROM stg s JOIN cartportal_customer c ON c.external_id = s.customer
            ON CONFLICT (external_id) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}


class OrderItemLoader(Loader):
    spec = EntitySpec(
        "order_items",
        "Order items",
        (
            Field("order", required=True, synonyms=("order_id", "orderid", "invoice"), max_length=KEY_LENGTH),
            Field("line_no", "int", min=1, synonyms=("order_item_id", "item_no", "line")),
            Field("sku", synonyms=("product_id", "stockcode", "product"), max_length=KEY_LENGTH),
            Field("quantity", "int", min=1, synonyms=("qty",)),
            Field("price", "decimal", required=True, min=0, digits=UNIT_PRICE, synonyms=("unit_price", "unitprice")),
            Field("freight", "decimal", min=0, digits=MONEY, synonyms=("freight_value",)),
        ),
        key=("order", "line_no", "sku", "quantity", "price"),
        help="Lines of orders already imported; a line of an unknown order is quarantined.",
    )
    table = "cartportal_orderline"
    staging = [
        ("line", "int"),
        ("order_ref", "text"),
        ("line_no", "int"),
        ("sku", "text"),
        ("quantity", "int"),
        ("unit_price", "numeric"),
        ("freight", "numeric"),
        ("source_key", "text"),
        ("region_id", "int"),
    ]
    references = [("order_ref", "cartportal_order", "external_id", "order")]
    region_from = [("order_ref", "cartportal_order", "external_id")]

    def prepare(self, parsed, context):
        quantity = whole_numbers(column_or(parsed, "quantity"), default=1)
        out = pd.DataFrame(
            {
                "line": context.lines,
                "order_ref": parsed["order"],
                "line_no": whole_numbers(column_or(parsed, "line_no")),
                "sku": column_or(parsed, "sku"),
                "quantity": quantity,
                "unit_price": parsed["price"],
                "freight": column_or(parsed, "freight", 0).fillna(0),
                "source_key": content_key(parsed, [c for c in self.spec.key if c in parsed]),
                "region_id": context.region_ids,
            }
        )
        extra = overflow_problems(
            [("quantity", quantity * parsed["price"], TOTAL, "The line's amount (quantity × price)")]
        )
        return out, extra

    def insert(self, cursor) -> dict:
        stage_touched_orders(cursor, "order_ref")
        cursor.execute("""
            INSERT INTO cartportal_orderline (order_id, region_id, line_no, product_id, sku, quantity, unit_price,
                amount, source_key)
            SELECT o.id, o.region_id,
                coalesce(s.line_no, o.last_line + row_number() OVER (PARTITION BY s.order_ref ORDER BY s.line)),
                p.id, coalesce(s.sku, ''), s.quantity, s.unit_price, round(s.quantity * s.unit_price, 2), s.source_key
            FROM stg s JOIN stg_orders o ON o.invoice = s.order_ref
            LEFT JOIN cartportal_product p ON p.sku = s.sku
            ON CONFLICT DO NOTHING""")
        loaded = cursor.rowcount
        cursor.execute("""
            UPDATE cartportal_order o SET freight = o.freight + f.freight FROM
                (SELECT order_ref, sum(freight) AS freight FROM stg GROUP BY order_ref) f
            WHERE o.external_id = f.order_ref AND f.freight > 0""")
        return {"loaded": loaded, "cancellations": 0}


def stage_touched_orders(cursor, reference: str = "invoice", cancels: str = "false") -> None:
    """The orders a chunk adds lines to (named by the staging column `reference`), with their last line number
    so far (an index lookup per order) and whether they are cancellations of this chunk still to be linked."""
    cursor.execute("DROP TABLE IF EXISTS stg_orders")
    cursor.execute(f"""
        CREATE TEMP TABLE stg_orders ON COMMIT DROP AS
        SELECT o.id, o.external_id AS invoice, o.customer_id, o.placed_at, o.region_id, {cancels} AS cancels,
            coalesce((SELECT l.line_no FROM cartportal_orderline l WHERE l.order_id = o.id
                      ORDER BY l.line_no DESC LIMIT 1), 0) AS last_line
        FROM cartportal_order o WHERE o.external_id IN (SELECT DISTINCT {reference} FROM stg)""")
    cursor.execute("ANALYZE stg_orders")
