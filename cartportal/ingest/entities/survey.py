"""Survey responses: every column without a field is kept as an answer under its own name."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from ..schema import EntitySpec, Field
from .base import REGION, Loader, column_or, whole_numbers


class SurveyLoader(Loader):
    spec = EntitySpec(
        "survey",
        "Survey responses",
        (
            Field("submitted_at", "datetime", synonyms=("timestamp", "date", "submitted")),
            Field("age", "int", min=10, max=120),
            Field("gender", synonyms=("sex",), max_length=32),
            REGION,
        ),
        help="Every other column is kept as an answer under its own name.",
    )
    table = "cartportal_surveyresponse"
    staging = [
        ("line", "int"),
        ("submitted_at", "timestamptz"),
        ("age", "int"),
        ("gender", "text"),
        ("answers", "jsonb"),
        ("region_id", "int"),
        ("source_key", "text"),
    ]
    keep_unmapped = True

    def prepare(self, parsed, context):

        answers = context.unmapped.apply(
            lambda row: json.dumps({k: v for k, v in row.items() if v != ""}, ensure_ascii=False), axis=1
        )
        keys = [hashlib.sha1(f"{context.fingerprint}:{line}".encode()).hexdigest() for line in context.lines]
        out = pd.DataFrame(
            {
                "line": context.lines,
                "submitted_at": column_or(parsed, "submitted_at"),
                "age": whole_numbers(column_or(parsed, "age")),
                "gender": column_or(parsed, "gender", "").fillna(""),
                "answers": answers.to_numpy(),
                "region_id": context.region_ids,
                "source_key": keys,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""INSERT INTO cartportal_surveyresponse (region_id, submitted_at, age, gender, answers,
                              source_key)
                          SELECT region_id, submitted_at, age, gender, answers, source_key FROM stg
                          ON CONFLICT (source_key) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}
