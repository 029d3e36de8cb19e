"""Per-customer order aggregates, kept current by the database as orders are written.

One row per (customer, region) with orders. PostgreSQL triggers on the order table refresh the rows of the
customers a statement touched, inside that statement's transaction (an import chunk, an ORM save, a COPY alike), so
the table never lags the orders. Everything stored is independent of the moment it is read: counts, sums, first and
last dates, and the dates and totals of the orders close enough to the last purchase that they can still fall in a
90-day window. Rescoring "now" turns them into features at its cut-off (`predictions/scoring/features.py`);
`python manage.py recompute_customer_history` rebuilds the table from the orders for repairs.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class CustomerHistory(models.Model):
    customer_id = models.BigIntegerField()
    region_id = models.BigIntegerField()
    first_order_at = models.DateTimeField(help_text="First order of any status")
    last_order_at = models.DateTimeField(help_text="Last order of any status")
    orders = models.IntegerField(help_text="Orders not cancelled or returned")
    spend = models.DecimalField(max_digits=30, decimal_places=2, null=True, help_text="Their total; null if none")
    net_spend = models.DecimalField(
        max_digits=30, decimal_places=2, help_text="Spend plus the negative totals of cancellation and return documents"
    )
    first_purchase_at = models.DateTimeField(null=True)
    last_purchase_at = models.DateTimeField(null=True)
    purchase_days = models.IntegerField(help_text="Days with an order not cancelled or returned")
    cancelled = models.IntegerField(help_text="Orders cancelled or returned")
    late_deliveries = models.IntegerField(help_text="Orders delivered after their promised date")
    last_late_delivery_at = models.DateTimeField(null=True)
    recent_placed = ArrayField(
        models.DateTimeField(), default=list, help_text="Purchases within 91 days before the last purchase"
    )
    recent_totals = ArrayField(models.DecimalField(max_digits=14, decimal_places=2), default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_id", "region_id"], name="customer_history_key")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in region {self.region_id}"
