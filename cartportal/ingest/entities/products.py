"""Products, shared by every region."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import MONEY, UNIT_PRICE, Loader


class ProductLoader(Loader):
    spec = EntitySpec(
        "products",
        "Products",
        (
            Field("sku", required=True, synonyms=("product_id", "stockcode", "item_id", "id"), max_length=64),
            Field("name", synonyms=("product_name", "title", "description"), max_length=300),
            Field("category", synonyms=("product_category_name", "category_name", "department"), max_length=120),
            Field("price", "decimal", min=0, digits=MONEY, synonyms=("unit_price", "list_price")),
            Field("house_brand", "bool", synonyms=("own_brand", "private_label", "is_house_brand")),
            Field(
                "unit_cost",
                "decimal",
                min=0,
                digits=UNIT_PRICE,
                synonyms=("cost", "cost_price", "unit_cost", "cogs", "purchase_price"),
            ),
        ),
        key=("sku",),
    )
    table = "cartportal_product"
    natural_key = "sku"
    staging = [
        ("line", "int"),
        ("sku", "text"),
        ("name", "text"),
        ("category", "text"),
        ("price", "numeric"),
        ("house_brand", "bool"),
        ("unit_cost", "numeric"),
    ]
    needs_region = False

    def prepare(self, parsed, context):
        def col(name, default=None):
            return parsed[name] if name in parsed else pd.Series(default, index=parsed.index, dtype=object)

        out = pd.DataFrame(
            {
                "line": context.lines,
                "sku": parsed["sku"],
                "name": col("name").fillna(""),
                "category": col("category").fillna(""),
                "price": col("price"),
                "house_brand": col("house_brand").fillna(False),
                "unit_cost": col("unit_cost"),
            }
        )
        return out, []

    def duplicates_in_db(self) -> str:
        # Products often arrive first through transactions (without a cost): a later product file sets the costs
        # of the known ones (the rows still count as already loaded).
        return (
            f"WITH costs AS (UPDATE {self.table} p SET unit_cost = s.unit_cost FROM stg s WHERE p.sku = s.sku"
            " AND s.unit_cost IS NOT NULL AND p.unit_cost IS DISTINCT FROM s.unit_cost RETURNING p.id) "
            f"DELETE FROM stg s USING {self.table} t WHERE t.sku = s.sku RETURNING s.line"
        )

    def insert(self, cursor) -> dict:
        return self.insert_staged(cursor, ["sku", "name", "category", "price", "house_brand", "unit_cost"])
