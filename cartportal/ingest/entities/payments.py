"""Order payments: an order's total becomes the sum of its payments."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import KEY_LENGTH, TOTAL, Loader, column_or, whole_numbers


class PaymentLoader(Loader):
    spec = EntitySpec(
        "payments",
        "Order payments",
        (
            Field("order", required=True, synonyms=("order_id", "orderid", "invoice"), max_length=KEY_LENGTH),
            Field("sequence", "int", min=1, max=32767, synonyms=("payment_sequential", "seq")),
            Field("method", synonyms=("payment_type", "payment_method"), max_length=32),
            Field("instalments", "int", min=0, max=120, synonyms=("payment_installments", "installments")),
            Field("value", "decimal", required=True, min=0, digits=TOTAL, synonyms=("payment_value", "amount")),
        ),
        key=("order", "sequence"),
        help="Payments of orders already imported; an order's total becomes the sum of its payments.",
    )
    table = "cartportal_payment"
    staging = [
        ("line", "int"),
        ("order_ref", "text"),
        ("sequence", "int"),
        ("method", "text"),
        ("instalments", "int"),
        ("value", "numeric"),
        ("region_id", "int"),
        ("source_key", "text"),
    ]
    references = [("order_ref", "cartportal_order", "external_id", "order")]
    region_from = [("order_ref", "cartportal_order", "external_id")]

    def prepare(self, parsed, context):
        sequence = whole_numbers(column_or(parsed, "sequence"), default=1)
        out = pd.DataFrame(
            {
                "line": context.lines,
                "order_ref": parsed["order"],
                "sequence": sequence,
                "method": column_or(parsed, "method", "").fillna(""),
                "instalments": whole_numbers(column_or(parsed, "instalments"), default=1),
                "value": parsed["value"],
                "region_id": context.region_ids,
                "source_key": (parsed["order"].astype(str) + ":" + sequence.astype(str)).to_numpy(),
            }
        )
        return out, []

    def duplicates_in_db(self) -> str:
        return (
            "DELETE FROM stg s USING cartportal_payment p JOIN cartportal_order o ON o.id = p.order_id "
            "WHERE o.external_id = s.order_ref AND p.sequence = s.sequence RETURNING s.line"
        )

    def insert(self, cursor) -> dict:
        cursor.execute("""INSERT INTO cartportal_payment (order_id, region_id, sequence, method, instalments, value)
                          SELECT o.id, o.region_id, s.sequence, s.method, s.instalments, s.value
                          FROM stg s JOIN cartportal_order o ON o.external_id = s.order_ref
                          ON CONFLICT DO NOTHING""")
        loaded = cursor.rowcount
        cursor.execute("""UPDATE cartportal_order o SET total = (SELECT coalesce(sum(p.value), 0)
                                                          FROM cartportal_payment p WHERE p.order_id = o.id)
                          WHERE o.external_id IN (SELECT DISTINCT order_ref FROM stg)""")
        return {"loaded": loaded, "cancellations": 0}
