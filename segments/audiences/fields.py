"""The per-customer fields marketers build audiences from, beyond RFM (documented in the README, "Audience fields"):

- average_order_value: net spend / orders (orders that were not cancelled or returned); missing without an order.
- sessions_30d: sessions started in the 30 days up to the reference date.
- cart_items: items in the customer's open cart at the reference date: quantities added minus removed since their
  last purchase, never below 0.
- engagement_score: 0..100, a third each for sessions in the last 30 days (4 or more = full), cart adds in the last
  30 days (4 or more = full) and orders in the last 90 days (3 or more = full); rounded to one decimal.
- profitability: gross margin (net spend minus the imported unit cost of what was bought) where the region's
  products carry costs, a line without a cost counted at the region's margin rate; otherwise net spend, and
  ``profitability_basis`` says "revenue".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ENGAGEMENT_FULL = {"sessions_30d": 4, "cart_adds_30d": 4, "orders_90d": 3}
FIELDS = ["average_order_value", "sessions_30d", "cart_items", "engagement_score", "profitability"]
MARGIN, REVENUE = "margin", "revenue"


def average_order_value(monetary: pd.Series, frequency: pd.Series) -> pd.Series:
    orders = pd.to_numeric(frequency, errors="coerce")
    spend = pd.to_numeric(monetary, errors="coerce")
    return (spend / orders.where(orders > 0)).round(2)


def engagement_score(activity: pd.DataFrame) -> pd.Series:
    parts = [
        (pd.to_numeric(activity[column], errors="coerce").fillna(0) / full).clip(0, 1)
        for column, full in ENGAGEMENT_FULL.items()
    ]
    return (sum(parts) * 100 / len(parts)).round(1)


def profitability(monetary: pd.Series, margin: pd.Series, costed_revenue: pd.Series) -> tuple[pd.Series, str]:
    """Margin when any line has a cost (uncosted spend at the region's margin rate), else net spend."""
    spend = pd.to_numeric(monetary, errors="coerce").astype(float)
    costed = pd.to_numeric(costed_revenue, errors="coerce").fillna(0).astype(float)
    if costed.sum() <= 0:
        return spend.round(2), REVENUE
    margin = pd.to_numeric(margin, errors="coerce").fillna(0).astype(float)
    rate = margin.sum() / costed.sum()
    return (margin + (spend - costed).clip(lower=0) * rate).round(2), MARGIN


def derive(raw: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``raw``: per customer monetary, frequency, sessions_30d, cart_adds_30d, orders_90d, cart_items, margin and
    costed_revenue. Returns the frame with the audience fields added, and the profitability basis."""
    frame = raw.copy()
    frame["average_order_value"] = average_order_value(frame["monetary"], frame["frequency"])
    frame["engagement_score"] = engagement_score(frame)
    frame["cart_items"] = pd.to_numeric(frame["cart_items"], errors="coerce").fillna(0).clip(lower=0)
    frame["profitability"], basis = profitability(frame["monetary"], frame["margin"], frame["costed_revenue"])
    frame["profitability_basis"] = basis
    return frame, basis


ACTIVITY_SQL = """
WITH ref AS (SELECT %(reference)s::timestamptz AS at),
sessions AS (SELECT s.customer_id, count(*) AS n FROM cartportal_session s, ref
  WHERE s.customer_id = ANY(%(ids)s) AND s.started_at > ref.at - interval '30 days' AND s.started_at <= ref.at
  GROUP BY 1),
adds AS (SELECT e.customer_id, count(*) AS n FROM cartportal_cartevent e, ref
  WHERE e.customer_id = ANY(%(ids)s) AND e.kind = 'add'
    AND e.occurred_at > ref.at - interval '30 days' AND e.occurred_at <= ref.at GROUP BY 1),
orders AS (SELECT o.customer_id, count(*) AS n FROM cartportal_order o, ref
  WHERE o.customer_id = ANY(%(ids)s) AND o.status NOT IN ('cancelled', 'returned')
    AND o.placed_at > ref.at - interval '90 days' AND o.placed_at <= ref.at GROUP BY 1),
bought AS (SELECT e.customer_id, max(e.occurred_at) AS at FROM cartportal_cartevent e, ref
  WHERE e.customer_id = ANY(%(ids)s) AND e.kind = 'purchase' AND e.occurred_at <= ref.at GROUP BY 1),
cart AS (SELECT e.customer_id, greatest(sum(CASE e.kind WHEN 'add' THEN e.quantity ELSE -e.quantity END), 0) AS n
  FROM cartportal_cartevent e LEFT JOIN bought b ON b.customer_id = e.customer_id, ref
  WHERE e.customer_id = ANY(%(ids)s) AND e.kind IN ('add', 'remove') AND e.occurred_at <= ref.at
    AND e.occurred_at > coalesce(b.at, '-infinity'::timestamptz) GROUP BY 1),
costed AS (SELECT o.customer_id, sum(l.amount - l.quantity * p.unit_cost) AS margin, sum(l.amount) AS revenue
  FROM cartportal_orderline l JOIN cartportal_order o ON o.id = l.order_id
  JOIN cartportal_product p ON p.id = l.product_id, ref
  WHERE o.customer_id = ANY(%(ids)s) AND o.status NOT IN ('cancelled', 'returned') AND p.unit_cost IS NOT NULL
    AND o.placed_at <= ref.at GROUP BY 1)
SELECT c.id, coalesce(sessions.n, 0), coalesce(adds.n, 0), coalesce(orders.n, 0), coalesce(cart.n, 0),
  coalesce(costed.margin, 0), coalesce(costed.revenue, 0)
FROM unnest(%(ids)s::bigint[]) AS c(id)
LEFT JOIN sessions ON sessions.customer_id = c.id LEFT JOIN adds ON adds.customer_id = c.id
LEFT JOIN orders ON orders.customer_id = c.id LEFT JOIN cart ON cart.customer_id = c.id
LEFT JOIN costed ON costed.customer_id = c.id
"""
ACTIVITY_COLUMNS = ["sessions_30d", "cart_adds_30d", "orders_90d", "cart_items", "margin", "costed_revenue"]


def activity_frame(cursor, customer_ids: list[int], reference) -> pd.DataFrame:
    cursor.execute(ACTIVITY_SQL, {"reference": reference, "ids": [int(i) for i in customer_ids]})
    rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["customer_id", *ACTIVITY_COLUMNS]).set_index("customer_id")
    return frame.astype(float) if len(frame) else frame.astype(np.float64)
