"""Reviews: their text matters even where the product, customer or order is not (yet) known."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import KEY_LENGTH, REGION, Loader, column_or, content_key, whole_numbers


class ReviewLoader(Loader):
    spec = EntitySpec(
        "reviews",
        "Reviews",
        (
            Field("review_id", synonyms=("id", "reviewid"), max_length=64),
            Field("sku", synonyms=("product_id", "product", "stockcode"), max_length=KEY_LENGTH),
            Field("customer", synonyms=("customer_id", "customerid"), max_length=KEY_LENGTH),
            Field("order", synonyms=("order_id", "orderid"), max_length=KEY_LENGTH),
            Field("rating", "int", min=1, max=5, synonyms=("review_score", "score", "stars")),
            Field("title", synonyms=("review_comment_title", "summary", "headline"), max_length=300),
            Field("text", synonyms=("review_comment_message", "review", "comment", "body", "sentence", "review_text")),
            Field("created_at", "datetime", synonyms=("review_creation_date", "date", "timestamp")),
            Field("language", max_length=8, synonyms=("lang",)),
            Field("sentiment_label", "int", min=0, max=1, synonyms=("label", "sentiment")),
            REGION,
        ),
        key=("review_id", "sku", "customer", "order", "rating", "title", "text", "created_at"),
    )
    table = "cartportal_review"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("sku", "text"),
        ("customer", "text"),
        ("order_ref", "text"),
        ("rating", "int"),
        ("title", "text"),
        ("text", "text"),
        ("created_at", "timestamptz"),
        ("language", "text"),
        ("sentiment_label", "int"),
        ("region_id", "int"),
    ]
    # A review whose product, customer or order is not (yet) known still loads, unlinked: its text matters.
    soft_references = [
        ("sku", "cartportal_product", "sku", "sku"),
        ("customer", "cartportal_customer", "external_id", "customer"),
        ("order_ref", "cartportal_order", "external_id", "order"),
    ]
    region_from = [("order_ref", "cartportal_order", "external_id"), ("customer", "cartportal_customer", "external_id")]

    def prepare(self, parsed, context):
        review_id = column_or(parsed, "review_id")
        keys = pd.Series(content_key(parsed, [c for c in self.spec.key if c in parsed]), index=parsed.index)
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": review_id.where(review_id.notna(), keys),
                "sku": column_or(parsed, "sku"),
                "customer": column_or(parsed, "customer"),
                "order_ref": column_or(parsed, "order"),
                "rating": whole_numbers(column_or(parsed, "rating")),
                "title": column_or(parsed, "title", "").fillna(""),
                "text": column_or(parsed, "text", "").fillna(""),
                "created_at": column_or(parsed, "created_at"),
                "language": column_or(parsed, "language", "").fillna(""),
                "sentiment_label": whole_numbers(column_or(parsed, "sentiment_label")),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_review (external_id, product_id, customer_id, order_id, region_id, rating, title,
                text, created_at, language, sentiment_label)
            SELECT s.external_id, p.id, c.id, o.id, s.region_id, s.rating, s.title, s.text, s.created_at,
                s.language, s.sentiment_label
            FROM stg s LEFT JOIN cartportal_product p ON p.sku = s.sku
            LEFT JOIN cartportal_customer c ON c.external_id = s.customer
            LEFT JOIN cartportal_order o ON o.external_id = s.order_ref
            ON CONFLICT (external_id) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}
