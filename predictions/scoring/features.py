"""Customer features computed in the database at an explicit cut-off: nothing after `as_of` is read.

One SQL statement per chunk (a region and a customer-id range), so that scoring a million customers never
pulls order rows into Python. Customers without orders get zeros and a large "days since" value.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
from django.db import connection
from psycopg import sql

NEVER_DAYS = 3650.0
CUSTOMER_FEATURES = [
    "tenure_days",
    "orders",
    "spend",
    "avg_order_value",
    "days_since_last_order",
    "orders_90d",
    "spend_90d",
    "late_deliveries",
    "cancelled_orders",
]

_SQL = """
SELECT c.id, c.region_id,
       EXTRACT(EPOCH FROM (%(as_of)s - COALESCE(LEAST(c.first_seen, o.first_at), o.first_at, c.first_seen)))
           / 86400.0 AS tenure_days,
       COALESCE(o.orders, 0), COALESCE(o.spend, 0),
       COALESCE(o.spend / NULLIF(o.orders, 0), 0),
       COALESCE(EXTRACT(EPOCH FROM (%(as_of)s - o.last_at)) / 86400.0, %(never)s),
       COALESCE(o.orders_90d, 0), COALESCE(o.spend_90d, 0), COALESCE(o.late, 0), COALESCE(o.cancelled, 0)
FROM cartportal_customer c
LEFT JOIN (
    SELECT customer_id,
           COUNT(*) FILTER (WHERE status NOT IN ('cancelled', 'returned')) AS orders,
           SUM(total) FILTER (WHERE status NOT IN ('cancelled', 'returned')) AS spend,
           MIN(placed_at) AS first_at,
           MAX(placed_at) FILTER (WHERE status NOT IN ('cancelled', 'returned')) AS last_at,
           COUNT(*) FILTER (WHERE placed_at >= %(recent)s AND status NOT IN ('cancelled', 'returned')) AS orders_90d,
           SUM(total) FILTER (WHERE placed_at >= %(recent)s AND status NOT IN ('cancelled', 'returned')) AS spend_90d,
           COUNT(*) FILTER (WHERE delivered_at > promised_at AND delivered_at < %(as_of)s) AS late,
           COUNT(*) FILTER (WHERE status IN ('cancelled', 'returned')) AS cancelled
    FROM cartportal_order
    WHERE placed_at < %(as_of)s AND customer_id BETWEEN %(id_from)s AND %(id_to)s AND region_id = %(region)s
    GROUP BY customer_id
) o ON o.customer_id = c.id
WHERE c.region_id = %(region)s AND c.id BETWEEN %(id_from)s AND %(id_to)s AND c.erased_at IS NULL
ORDER BY c.id
"""


def customer_features(*, region_id: int, id_from: int, id_to: int, as_of: dt.datetime) -> pd.DataFrame:
    """One row per customer of the region in [id_from, id_to], indexed by customer id, with CUSTOMER_FEATURES."""
    params = {
        "as_of": as_of,
        "recent": as_of - dt.timedelta(days=90),
        "never": NEVER_DAYS,
        "region": region_id,
        "id_from": id_from,
        "id_to": id_to,
    }
    query = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(
        sql.SQL(_SQL.replace("%(", "{").replace(")s", "}")).format(**{k: sql.Literal(v) for k, v in params.items()})
    )
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        with cursor.copy(query.as_string(cursor.connection)) as copy:
            for block in copy:
                buffer.write(block)
    columns = ["customer_id", "region_id", *CUSTOMER_FEATURES]
    if not buffer.tell():
        return pd.DataFrame(columns=columns[1:], index=pd.Index([], name="customer_id", dtype=np.int64))
    buffer.seek(0)
    dtypes = {"customer_id": np.int64, "region_id": np.int64} | {name: np.float64 for name in CUSTOMER_FEATURES}
    frame = pd.read_csv(buffer, header=None, names=columns, dtype=dtypes).set_index("customer_id")
    frame["tenure_days"] = frame["tenure_days"].fillna(0.0)
    return frame


def all_customer_features(*, as_of: dt.datetime, region_ids: list[int] | None = None) -> pd.DataFrame:
    """Every (non-erased) customer's features at `as_of`, for training and drift (not for the rescoring hot path)."""
    from cartportal.models import Customer

    regions = Customer.objects.in_regions(region_ids).values_list("region_id", flat=True).distinct()
    parts = [
        customer_features(region_id=region, id_from=0, id_to=2**62, as_of=as_of) for region in sorted(set(regions))
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return customer_features(region_id=0, id_from=0, id_to=-1, as_of=as_of)
    return pd.concat(parts).sort_index()


BTYD_FEATURES = ["purchase_days", "days_since_first", "days_since_last", "avg_order_value"]
_BTYD_SQL = """
SELECT c.id, c.region_id,
       COALESCE(o.purchase_days, 0),
       COALESCE(EXTRACT(EPOCH FROM (%(as_of)s - o.first_at)) / 86400.0, 0),
       COALESCE(EXTRACT(EPOCH FROM (%(as_of)s - o.last_at)) / 86400.0, 0),
       COALESCE(o.spend / NULLIF(o.orders, 0), 0)
FROM cartportal_customer c
LEFT JOIN (
    SELECT customer_id, COUNT(DISTINCT date_trunc('day', placed_at)) AS purchase_days, COUNT(*) AS orders,
           SUM(total) AS spend, MIN(placed_at) AS first_at, MAX(placed_at) AS last_at
    FROM cartportal_order
    WHERE placed_at < %(as_of)s AND customer_id BETWEEN %(id_from)s AND %(id_to)s AND region_id = %(region)s
      AND status NOT IN ('cancelled', 'returned')
    GROUP BY customer_id
) o ON o.customer_id = c.id
WHERE c.region_id = %(region)s AND c.id BETWEEN %(id_from)s AND %(id_to)s AND c.erased_at IS NULL
ORDER BY c.id
"""


def btyd_features(*, region_id: int, id_from: int, id_to: int, as_of: dt.datetime) -> pd.DataFrame:
    """What buy-till-you-die models read, at ``as_of``: days with a purchase (zero-amount orders count), days since
    the first and since the last purchase, mean order value. One row per customer of the range, as above."""
    params = {"as_of": as_of, "region": region_id, "id_from": id_from, "id_to": id_to}
    with connection.cursor() as cursor:
        cursor.execute(_BTYD_SQL, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["customer_id", "region_id", *BTYD_FEATURES]).set_index("customer_id")
    frame.index = frame.index.astype(np.int64)
    return frame.astype({"region_id": np.int64} | {name: np.float64 for name in BTYD_FEATURES})
