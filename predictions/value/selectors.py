"""Reads for value forecasting, always from the caller's region scope."""

from __future__ import annotations

import pandas as pd
from django.db.models import FloatField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from cartportal.models import Order
from predictions.models import Kind
from predictions.selectors import scores
from predictions.value import transactions as tx


def transactions_for(user, region_codes: list[str] | None = None) -> pd.DataFrame:
    orders = Order.objects.restrict(user, "view")
    if region_codes:
        orders = orders.filter(region__code__in=region_codes)
    return tx.from_orders(orders)


def expected_order_value(user, customer_ids: list[int]) -> float | None:
    """Expected spend per expected purchase over the given customers, from the published value run (None when
    no run has scored any of them)."""
    rows = scores(user, Kind.VALUE).filter(customer_id__in=customer_ids)
    totals = rows.aggregate(
        spend=Sum(Cast(KT("extra__expected_spend"), FloatField())),
        purchases=Sum(Cast(KT("extra__expected_purchases"), FloatField())),
    )
    if not totals["purchases"] or totals["purchases"] <= 0 or totals["spend"] is None:
        return None
    return float(totals["spend"]) / float(totals["purchases"])
