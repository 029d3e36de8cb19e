"""RFM scoring and named RFM segments, computed set-based in PostgreSQL.

- Recency: whole days from the reference date back to the last purchase (an order not cancelled or returned).
- Frequency: number of such orders.
- Monetary: net value — order totals of standing orders, plus the (negative) totals of cancellation and return
  documents, so a cancelled or returned line nets out of what the customer spent. A cancelled or returned order
  with a positive total adds nothing.
- Scores are quintiles with ties handled: a customer's score is 1 + floor(5 * (rank - 1) / n) where rank is the
  lowest rank among equal values (SQL `rank()`), so equal values always share a score. Recency ranks from the
  oldest purchase (score 1) to the newest (score 5); frequency and monetary from the lowest to the highest.
- Named segments come from the (R, F) grid below, the widely used eleven-segment map.
"""

from __future__ import annotations

STANDING = "('cancelled', 'returned')"

# (recency scores, frequency scores) -> name; covers all 25 cells exactly once.
RFM_GRID: list[tuple[tuple[int, ...], tuple[int, ...], str]] = [
    ((5,), (4, 5), "Champions"),
    ((3, 4), (4, 5), "Loyal Customers"),
    ((4, 5), (2, 3), "Potential Loyalists"),
    ((5,), (1,), "New Customers"),
    ((4,), (1,), "Promising"),
    ((3,), (3,), "Need Attention"),
    ((3,), (1, 2), "About to Sleep"),
    ((1, 2), (5,), "Can't Lose Them"),
    ((1, 2), (3, 4), "At Risk"),
    ((1, 2), (1, 2), "Hibernating"),
]
RFM_SEGMENT_NAMES = [name for _, _, name in RFM_GRID]


def rfm_name(r: int, f: int) -> str:
    for rs, fs, name in RFM_GRID:
        if r in rs and f in fs:
            return name
    raise ValueError(f"no RFM segment for R={r} F={f}")


def rfm_case_sql(r: str = "r_score", f: str = "f_score") -> str:
    def sql_list(scores: tuple[int, ...]) -> str:
        return ",".join(map(str, scores))

    arms = " ".join(
        f"WHEN {r} IN ({sql_list(rs)}) AND {f} IN ({sql_list(fs)}) THEN '{name.replace(chr(39), chr(39) * 2)}'"
        for rs, fs, name in RFM_GRID
    )
    return f"CASE {arms} ELSE '' END"


def quintile_sql(order_by: str, partition: str = "part") -> str:
    """Quintile score with ties sharing the lowest rank's score."""
    return (
        f"(1 + floor(5.0 * (rank() OVER (PARTITION BY {partition} ORDER BY {order_by}) - 1)"
        f" / count(*) OVER (PARTITION BY {partition})))::smallint"
    )


def buyers_sql(*, from_history: bool = True) -> str:
    """Per-customer recency, frequency and net monetary value as of %(as_of)s, for customers in scope.

    Customers whose every order is dated at or before %(as_of)s (all of them when the rebuild measures from the latest
    order, as it does by default) are read from the per-customer order aggregates the database keeps
    (cartportal_customerhistory); the others (a snapshot of an earlier month) from their orders up to %(as_of)s.
    With from_history=False every customer is read from the orders (the two give the same rows).
    Expects the CTE `scope(id, region_id)` to be defined before it."""
    from_orders = f"""
        SELECT o.customer_id, s.region_id,
            max(o.placed_at) FILTER (WHERE o.status NOT IN {STANDING}) AS last_purchase,
            count(*) FILTER (WHERE o.status NOT IN {STANDING}) AS frequency,
            coalesce(sum(CASE WHEN o.status NOT IN {STANDING} THEN o.total
                              WHEN o.total < 0 THEN o.total ELSE 0 END), 0)::numeric(16, 2) AS monetary
        FROM cartportal_order o JOIN scope s ON s.id = o.customer_id
        WHERE o.placed_at <= %(as_of)s {{only}}
        GROUP BY o.customer_id, s.region_id"""
    if not from_history:
        purchases = from_orders.format(only="")
    else:
        purchases = f"""
        SELECT h.customer_id, s.region_id, max(h.last_purchase_at) AS last_purchase,
            sum(h.orders) AS frequency, coalesce(sum(h.net_spend), 0)::numeric(16, 2) AS monetary
        FROM cartportal_customerhistory h JOIN scope s ON s.id = h.customer_id
        WHERE NOT EXISTS (SELECT 1 FROM unsettled u WHERE u.customer_id = h.customer_id)
        GROUP BY h.customer_id, s.region_id
        UNION ALL {from_orders.format(only="AND o.customer_id IN (SELECT customer_id FROM unsettled)")}"""
    return f"""
    unsettled AS (
        SELECT DISTINCT customer_id FROM cartportal_customerhistory WHERE last_order_at > %(as_of)s
    ),
    purchases AS ({purchases}
    ),
    buyers AS (
        SELECT p.customer_id, p.region_id, p.last_purchase, p.frequency, p.monetary,
            floor(extract(epoch FROM %(as_of)s::timestamptz - p.last_purchase) / 86400)::int AS recency_days,
            CASE WHEN %(by_region)s THEN p.region_id ELSE 0 END AS part
        FROM purchases p
        WHERE p.frequency > 0
    ),
    scored AS (
        SELECT b.*,
            {quintile_sql("recency_days DESC")} AS r_score,
            {quintile_sql("frequency")} AS f_score,
            {quintile_sql("monetary")} AS m_score
        FROM buyers b
    )"""
