"""Reads for value forecasting, always from the caller's region scope."""

from __future__ import annotations

import pandas as pd

from cartportal.models import Order
from predictions.value import transactions as tx


def transactions_for(user, region_codes: list[str] | None = None) -> pd.DataFrame:
    orders = Order.objects.restrict(user, "view")
    if region_codes:
        orders = orders.filter(region__code__in=region_codes)
    return tx.from_orders(orders)
