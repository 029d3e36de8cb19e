"""Sellers."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import REGION, Loader, column_or


class SellerLoader(Loader):
    spec = EntitySpec(
        "sellers",
        "Sellers",
        (
            Field("seller", required=True, synonyms=("seller_id", "vendor_id", "merchant_id"), max_length=64),
            Field("city", synonyms=("seller_city",), max_length=120),
            Field("postcode_prefix", synonyms=("seller_zip_code_prefix", "zip", "postcode"), max_length=16),
            REGION,
        ),
        key=("seller",),
    )
    table = "cartportal_seller"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("city", "text"),
        ("postcode_prefix", "text"),
        ("region_id", "int"),
    ]

    def prepare(self, parsed, context):
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": parsed["seller"],
                "city": column_or(parsed, "city", "").fillna(""),
                "postcode_prefix": column_or(parsed, "postcode_prefix", "").fillna(""),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        return self.insert_staged(cursor, ["external_id", "city", "postcode_prefix", "region_id"])
