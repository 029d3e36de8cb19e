"""Data quality of what is loaded, per region, on six dimensions: counts, rates and examples.

Each dimension is a set of checks run in SQL over the loaded tables of the regions the user may view; a check
counts offending records, the rate divides by the records it looked at, and up to three examples name them by
the shop's own ids. (The per-import report, built from the quarantine, is in selectors.quality_for_job.)
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from cartportal.access import visible_regions

EXAMPLES = 3
OUTLIER_IQR = 3.0  # a sale line is an outlier above Q3 + 3 x IQR of its region's log line amounts (money is skewed)
OUTLIER_MIN_LINES = 20  # fewer sale lines than this in a region: no outlier test


@dataclass(frozen=True)
class Check:
    dimension: str
    name: str
    label: str
    sql: str  # -> region_id, offending count, looked-at total, examples (text[])


def _checks() -> list[Check]:
    return [
        Check(
            "completeness",
            "customers_without_first_seen",
            "customers without a first-seen date",
            """SELECT region_id, count(*) FILTER (WHERE first_seen IS NULL), count(*),
                (array_agg(external_id ORDER BY id) FILTER (WHERE first_seen IS NULL))[1:%(n)s]
               FROM cartportal_customer WHERE region_id = ANY(%(ids)s) GROUP BY region_id""",
        ),
        Check(
            "completeness",
            "orders_without_customer",
            "orders without a customer",
            """SELECT region_id, count(*) FILTER (WHERE customer_id IS NULL), count(*),
                (array_agg(external_id ORDER BY id) FILTER (WHERE customer_id IS NULL))[1:%(n)s]
               FROM cartportal_order WHERE region_id = ANY(%(ids)s) GROUP BY region_id""",
        ),
        Check(
            "validity",
            "bot_sessions",
            "bot-like sessions (many pages at machine speed)",
            """SELECT region_id, count(*) FILTER (WHERE is_bot), count(*),
                (array_agg(external_id ORDER BY id) FILTER (WHERE is_bot))[1:%(n)s]
               FROM cartportal_session WHERE region_id = ANY(%(ids)s) GROUP BY region_id""",
        ),
        Check(
            "validity",
            "outlier_lines",
            f"sale lines with an outlying amount (log amount above Q3 + {OUTLIER_IQR:g} IQR of the region)",
            """WITH sales AS (SELECT l.region_id, ln(l.amount) AS amount, o.external_id || ' line ' || l.line_no AS ref
                              FROM cartportal_orderline l JOIN cartportal_order o ON o.id = l.order_id
                              WHERE l.region_id = ANY(%(ids)s) AND l.quantity > 0 AND l.amount > 0),
                    bounds AS (SELECT region_id, count(*) AS n,
                                 percentile_cont(0.75) WITHIN GROUP (ORDER BY amount)
                                 + %(iqr)s * (percentile_cont(0.75) WITHIN GROUP (ORDER BY amount)
                                              - percentile_cont(0.25) WITHIN GROUP (ORDER BY amount)) AS high
                               FROM sales GROUP BY region_id)
               SELECT s.region_id, count(*) FILTER (WHERE b.n >= %(min_lines)s AND s.amount > b.high), count(*),
                 (array_agg(s.ref ORDER BY s.amount DESC) FILTER (WHERE b.n >= %(min_lines)s
                                                               AND s.amount > b.high))[1:%(n)s]
               FROM sales s JOIN bounds b ON b.region_id = s.region_id GROUP BY s.region_id""",
        ),
        Check(
            "accuracy",
            "order_total_mismatch",
            "orders whose total differs from the sum of their lines",
            """WITH sums AS (SELECT order_id, sum(amount) AS lines FROM cartportal_orderline
                             WHERE region_id = ANY(%(ids)s) GROUP BY order_id)
               SELECT o.region_id, count(*) FILTER (WHERE abs(o.total - s.lines) > 0.01), count(*),
                 (array_agg(o.external_id ORDER BY o.id) FILTER (WHERE abs(o.total - s.lines) > 0.01))[1:%(n)s]
               FROM cartportal_order o JOIN sums s ON s.order_id = o.id GROUP BY o.region_id""",
        ),
        Check(
            "accuracy",
            "unpriced_sale_lines",
            "sale lines with a zero price",
            """SELECT l.region_id, count(*) FILTER (WHERE l.unit_price <= 0), count(*),
                 (array_agg(o.external_id || ' line ' || l.line_no ORDER BY l.id)
                    FILTER (WHERE l.unit_price <= 0))[1:%(n)s]
               FROM cartportal_orderline l JOIN cartportal_order o ON o.id = l.order_id
               WHERE l.region_id = ANY(%(ids)s) AND l.quantity > 0 GROUP BY l.region_id""",
        ),
        Check(
            "consistency",
            "delivered_before_placed",
            "orders shipped or delivered before they were placed",
            """SELECT region_id, count(*) FILTER (WHERE delivered_at < placed_at OR shipped_at < placed_at), count(*),
                 (array_agg(external_id ORDER BY id)
                    FILTER (WHERE delivered_at < placed_at OR shipped_at < placed_at))[1:%(n)s]
               FROM cartportal_order WHERE region_id = ANY(%(ids)s) GROUP BY region_id""",
        ),
        Check(
            "consistency",
            "events_in_foreign_session",
            "cart events whose customer is not the session's customer",
            """SELECT e.region_id, count(*) FILTER (WHERE e.customer_id <> s.customer_id), count(*),
                 (array_agg(coalesce(e.source_key, e.id::text) ORDER BY e.id)
                    FILTER (WHERE e.customer_id <> s.customer_id))[1:%(n)s]
               FROM cartportal_cartevent e JOIN cartportal_session s ON s.id = e.session_id
               WHERE e.region_id = ANY(%(ids)s) GROUP BY e.region_id""",
        ),
        Check(
            "timeliness",
            "future_orders",
            "orders dated in the future",
            """SELECT region_id, count(*) FILTER (WHERE placed_at > %(now)s), count(*),
                 (array_agg(external_id ORDER BY id) FILTER (WHERE placed_at > %(now)s))[1:%(n)s]
               FROM cartportal_order WHERE region_id = ANY(%(ids)s) GROUP BY region_id""",
        ),
        Check(
            "uniqueness",
            "shared_emails",
            "customers sharing an e-mail address with another customer",
            """WITH c AS (SELECT region_id, external_id, id,
                                 count(*) OVER (PARTITION BY region_id, lower(email)) AS same, email
                          FROM cartportal_customer WHERE region_id = ANY(%(ids)s))
               SELECT region_id, count(*) FILTER (WHERE email <> '' AND same > 1), count(*),
                 (array_agg(external_id ORDER BY lower(email), id) FILTER (WHERE email <> '' AND same > 1))[1:%(n)s]
               FROM c GROUP BY region_id""",
        ),
        Check(
            "uniqueness",
            "repeated_orders",
            "orders repeating another order of the same customer, time and total",
            """WITH o AS (SELECT region_id, external_id, id, row_number() OVER (
                              PARTITION BY customer_id, placed_at, total ORDER BY id) AS nth
                          FROM cartportal_order WHERE region_id = ANY(%(ids)s) AND customer_id IS NOT NULL)
               SELECT region_id, count(*) FILTER (WHERE nth > 1), count(*),
                 (array_agg(external_id ORDER BY id) FILTER (WHERE nth > 1))[1:%(n)s]
               FROM o GROUP BY region_id""",
        ),
    ]


DIMENSIONS = ("accuracy", "completeness", "consistency", "validity", "timeliness", "uniqueness")


def region_quality(user, region_code: str | None = None) -> list[dict]:
    """One entry per visible region (or only `region_code`): per dimension its checks with count, looked-at
    total, rate and examples, the dimension's totals, and the age of the newest record."""
    regions = visible_regions(user, "view").order_by("code")
    if region_code:
        regions = regions.filter(code=region_code)
    regions = list(regions)
    ids = [r.id for r in regions]
    params = {"ids": ids, "n": EXAMPLES, "iqr": OUTLIER_IQR, "min_lines": OUTLIER_MIN_LINES, "now": timezone.now()}
    found: dict[tuple[int, str], tuple[int, int, list]] = {}
    checks = _checks()
    with connection.cursor() as cursor:
        for check in checks:
            cursor.execute(check.sql, params)
            for region_id, bad, total, examples in cursor.fetchall():
                found[(region_id, check.name)] = (bad or 0, total or 0, [e for e in (examples or []) if e])
        newest = _newest(cursor, ids)
    now = timezone.now()
    out = []
    for region in regions:
        entry = {"region": region.code, "name": region.name, "dimensions": {}}
        for dimension in DIMENSIONS:
            items = []
            for check in (c for c in checks if c.dimension == dimension):
                bad, total, examples = found.get((region.id, check.name), (0, 0, []))
                items.append(
                    {"check": check.name, "label": check.label, "count": bad, "of": total, "rate": _rate(bad, total)}
                    | {"examples": examples}
                )
            bad, total = sum(i["count"] for i in items), sum(i["of"] for i in items)
            entry["dimensions"][dimension] = {"count": bad, "of": total, "rate": _rate(bad, total), "checks": items}
        latest = newest.get(region.id)
        entry["dimensions"]["timeliness"]["newest_record"] = latest.isoformat() if latest else None
        entry["dimensions"]["timeliness"]["age_days"] = (now - latest).days if latest else None
        out.append(entry)
    return out


def _newest(cursor, ids: list[int]) -> dict:
    cursor.execute(
        """SELECT region_id, max(t) FROM (
               SELECT region_id, max(placed_at) AS t FROM cartportal_order WHERE region_id = ANY(%(ids)s)
               GROUP BY region_id
               UNION ALL SELECT region_id, max(started_at) FROM cartportal_session WHERE region_id = ANY(%(ids)s)
               GROUP BY region_id
               UNION ALL SELECT region_id, max(occurred_at) FROM cartportal_cartevent WHERE region_id = ANY(%(ids)s)
               GROUP BY region_id) x GROUP BY region_id""",
        {"ids": ids},
    )
    return dict(cursor.fetchall())


def _rate(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


def flat_rows(report: list[dict]) -> list[list]:
    """One CSV row per region and check."""
    rows = []
    for entry in report:
        for dimension, block in entry["dimensions"].items():
            for item in block["checks"]:
                rows.append(
                    [entry["region"], dimension, item["check"], item["count"], item["of"], item["rate"]]
                    + [" | ".join(item["examples"])]
                )
    return rows


CSV_HEADER = ["region", "dimension", "check", "count", "of", "rate", "examples"]
