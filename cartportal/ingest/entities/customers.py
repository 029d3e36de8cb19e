"""Customers."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import MONEY, REGION, Loader


class CustomerLoader(Loader):
    spec = EntitySpec(
        "customers",
        "Customers",
        (
            Field(
                "customer",
                required=True,
                synonyms=("customer_id", "customerid", "id", "client_id", "user_id"),
                max_length=64,
            ),
            Field("name", synonyms=("full_name", "customer_name"), max_length=200),
            Field("email", synonyms=("e_mail", "mail", "email_address"), max_length=254),
            Field("first_seen", "datetime", synonyms=("signup_date", "created_at", "registered", "first_order")),
            Field(
                "acquisition_source", synonyms=("source", "channel", "utm_source", "acquisition_channel"), max_length=64
            ),
            Field("acquisition_cost", "decimal", min=0, digits=MONEY, synonyms=("cac", "acquisition_cost")),
            Field("device", max_length=32),
            Field("age_band", synonyms=("age_group", "age"), max_length=16),
            Field("gender", synonyms=("sex",), max_length=16),
            Field("consent_personalisation", "bool", synonyms=("consent_personalization", "personalisation")),
            Field("consent_marketing", "bool", synonyms=("marketing_consent", "opt_in", "newsletter")),
            REGION,
        ),
        key=("customer",),
    )
    table = "cartportal_customer"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("region_id", "int"),
        ("name", "text"),
        ("email", "text"),
        ("first_seen", "timestamptz"),
        ("acquisition_source", "text"),
        ("acquisition_cost", "numeric"),
        ("device", "text"),
        ("age_band", "text"),
        ("gender", "text"),
        ("consent_personalisation", "bool"),
        ("consent_marketing", "bool"),
    ]

    def prepare(self, parsed, context):
        def col(name, default=None):
            return parsed[name] if name in parsed else pd.Series(default, index=parsed.index, dtype=object)

        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": parsed["customer"],
                "region_id": context.region_ids,
                "name": col("name").fillna(""),
                "email": col("email").fillna(""),
                "first_seen": col("first_seen"),
                "acquisition_source": col("acquisition_source").fillna(""),
                "acquisition_cost": col("acquisition_cost"),
                "device": col("device").fillna(""),
                "age_band": col("age_band").fillna(""),
                "gender": col("gender").fillna(""),
                # Opt-in: a customer whose export says nothing about consent has not consented.
                "consent_personalisation": col("consent_personalisation").fillna(False),
                "consent_marketing": col("consent_marketing").fillna(False),
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        return self.insert_staged(
            cursor,
            [
                "external_id",
                "region_id",
                "name",
                "email",
                "first_seen",
                "acquisition_source",
                "acquisition_cost",
                "device",
                "age_band",
                "gender",
                "consent_personalisation",
                "consent_marketing",
            ],
        )
