"""The per-customer order aggregates (`CustomerHistory`): the full recompute for repairs, and what it is compared with.

The database keeps the table current on every write to the orders (triggers of migration 0011 call
`cartportal_refresh_customer_history(ids)` for the customers a statement touched). `recompute_customer_history`
below rebuilds every row from the orders in one set-based statement, written independently of the trigger
function, so the two can check each other (tests/cartportal/test_customer_history.py).
"""

from __future__ import annotations

from django.db import connection, transaction

from .audit import record

COLUMNS = [
    "customer_id",
    "region_id",
    "first_order_at",
    "last_order_at",
    "orders",
    "spend",
    "net_spend",
    "first_purchase_at",
    "last_purchase_at",
    "purchase_days",
    "cancelled",
    "late_deliveries",
    "last_late_delivery_at",
    "recent_placed",
    "recent_totals",
]

# Orders within this many days before a customer's last purchase are kept with their dates and totals: whatever the
# cut-off after the last purchase, a 90-day window before it holds no older purchase (one day of margin).
RECENT_DAYS = 91

_FULL_SQL = f"""
INSERT INTO cartportal_customerhistory ({", ".join(COLUMNS)})
SELECT customer_id, region_id,
       MIN(placed_at), MAX(placed_at),
       COUNT(*) FILTER (WHERE kept),
       SUM(total) FILTER (WHERE kept),
       SUM(CASE WHEN kept THEN total WHEN total < 0 THEN total ELSE 0 END),
       MIN(placed_at) FILTER (WHERE kept),
       MAX(placed_at) FILTER (WHERE kept),
       COUNT(DISTINCT date_trunc('day', placed_at)) FILTER (WHERE kept),
       COUNT(*) FILTER (WHERE NOT kept),
       COUNT(*) FILTER (WHERE delivered_at > promised_at),
       MAX(delivered_at) FILTER (WHERE delivered_at > promised_at),
       COALESCE(ARRAY_AGG(placed_at ORDER BY placed_at, id) FILTER (WHERE recent), '{{}}'),
       COALESCE(ARRAY_AGG(total ORDER BY placed_at, id) FILTER (WHERE recent), '{{}}')
FROM (
    SELECT o.id, o.customer_id, o.region_id, o.placed_at, o.total, o.promised_at, o.delivered_at, o.kept,
           o.kept AND o.placed_at >= MAX(o.placed_at) FILTER (WHERE o.kept)
               OVER (PARTITION BY o.customer_id, o.region_id) - interval '{RECENT_DAYS} days' AS recent
    FROM (
        SELECT id, customer_id, region_id, placed_at, total, promised_at, delivered_at,
               status NOT IN ('cancelled', 'returned') AS kept
        FROM cartportal_order
        WHERE customer_id IS NOT NULL
    ) o
) o
GROUP BY customer_id, region_id
"""


def recompute_customer_history(*, actor="command:recompute_customer_history") -> int:
    """Rebuild every row from the orders (for repairs: after orders were changed with the triggers disabled, or to
    check the incremental rows). Takes the table's exclusive lock for the rebuild (order writes wait for it); the
    audit row records how many rows it holds. Returns that number."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE cartportal_customerhistory IN ACCESS EXCLUSIVE MODE")
            cursor.execute("DELETE FROM cartportal_customerhistory")
            removed = cursor.rowcount
            cursor.execute(_FULL_SQL)
            rows = cursor.rowcount
        record(
            actor=actor,
            action="customer_history.recomputed",
            object_type="customer_history",
            before={"rows": removed},
            after={"rows": rows},
        )
    return rows
