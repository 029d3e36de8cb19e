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
CHUNK_WORK_MEM = "64MB"
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
       date_part('epoch', (%(as_of)s - COALESCE(LEAST(c.first_seen, o.first_at), o.first_at, c.first_seen)))
           / 86400.0 AS tenure_days,
       COALESCE(o.orders, 0), COALESCE(o.spend, 0),
       COALESCE(o.spend / NULLIF(o.orders, 0), 0),
       COALESCE(date_part('epoch', (%(as_of)s - o.last_at)) / 86400.0, %(never)s),
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
    return _read_features(_SQL, _params(region_id, id_from, id_to, as_of))


# The same features read from the per-customer order aggregates (cartportal.models.CustomerHistory, kept current by
# the database as orders are written) instead of aggregating the orders: for a cut-off after every order of the
# customer, which is what a rescore "now" asks. A customer with an order or a late delivery dated at or after the
# cut-off (the import accepts dates up to a day ahead) is "unsettled" and read from the orders as above, so both
# ways give the same numbers for every customer.
_CURRENT_SQL = """
SELECT c.id, c.region_id,
       date_part('epoch', (%(as_of)s - COALESCE(LEAST(c.first_seen, h.first_order_at), h.first_order_at, c.first_seen)))
           / 86400.0 AS tenure_days,
       COALESCE(h.orders, 0), COALESCE(h.spend, 0),
       COALESCE(h.spend / NULLIF(h.orders, 0), 0),
       COALESCE(date_part('epoch', (%(as_of)s - h.last_purchase_at)) / 86400.0, %(never)s),
       CASE WHEN h.last_purchase_at >= %(recent)s
            THEN (SELECT COUNT(*) FROM unnest(h.recent_placed) p WHERE p >= %(recent)s) ELSE 0 END,
       COALESCE(CASE WHEN h.last_purchase_at >= %(recent)s
            THEN (SELECT SUM(t) FROM unnest(h.recent_placed, h.recent_totals) r(p, t) WHERE p >= %(recent)s) END, 0),
       COALESCE(h.late_deliveries, 0), COALESCE(h.cancelled, 0),
       COALESCE(h.last_order_at >= %(as_of)s OR h.last_late_delivery_at >= %(as_of)s, false)
FROM cartportal_customer c
LEFT JOIN cartportal_customerhistory h
       ON h.customer_id = c.id AND h.region_id = c.region_id
      AND h.customer_id BETWEEN %(id_from)s AND %(id_to)s AND h.region_id = %(region)s
WHERE c.region_id = %(region)s AND c.id BETWEEN %(id_from)s AND %(id_to)s AND c.erased_at IS NULL
ORDER BY c.id
"""


def current_customer_features(*, region_id: int, id_from: int, id_to: int, as_of: dt.datetime) -> pd.DataFrame:
    """What `customer_features` gives at `as_of`, read from the order aggregates (see _CURRENT_SQL)."""
    frame = _read_features(_CURRENT_SQL, _params(region_id, id_from, id_to, as_of), extra=["unsettled"])
    unsettled = frame.index[frame.pop("unsettled").astype(bool).to_numpy()]
    if len(unsettled):
        exact = customer_features(
            region_id=region_id, id_from=int(unsettled.min()), id_to=int(unsettled.max()), as_of=as_of
        )
        frame.loc[unsettled] = exact.loc[unsettled, frame.columns]
    return frame


def _params(region_id: int, id_from: int, id_to: int, as_of: dt.datetime) -> dict:
    return {
        "as_of": as_of,
        "recent": as_of - dt.timedelta(days=90),
        "never": NEVER_DAYS,
        "region": region_id,
        "id_from": id_from,
        "id_to": id_to,
    }


def _read_features(text: str, params: dict, extra: list[str] = ()) -> pd.DataFrame:
    """Run one of the feature queries through COPY and read its CSV into a frame indexed by customer id."""
    query = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(
        sql.SQL(text.replace("%(", "{").replace(")s", "}")).format(**{k: sql.Literal(v) for k, v in params.items()})
    )
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        # a chunk's join sorts its range in memory instead of spilling to disk (for this transaction only)
        if connection.in_atomic_block:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [CHUNK_WORK_MEM])
        with cursor.copy(query.as_string(cursor.connection)) as copy:
            for block in copy:
                buffer.write(block)
    columns = ["customer_id", "region_id", *CUSTOMER_FEATURES, *extra]
    if not buffer.tell():
        return pd.DataFrame(columns=columns[1:], index=pd.Index([], name="customer_id", dtype=np.int64))
    buffer.seek(0)
    dtypes = {"customer_id": np.int64, "region_id": np.int64} | {name: np.float64 for name in CUSTOMER_FEATURES}
    dtypes |= {name: str for name in extra}
    frame = pd.read_csv(buffer, header=None, names=columns, dtype=dtypes).set_index("customer_id")
    frame["tenure_days"] = frame["tenure_days"].fillna(0.0)
    for name in extra:
        frame[name] = frame[name] == "t"
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
       COALESCE(date_part('epoch', (%(as_of)s - o.first_at)) / 86400.0, 0),
       COALESCE(date_part('epoch', (%(as_of)s - o.last_at)) / 86400.0, 0),
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
    return _read_rows(_BTYD_SQL, params, BTYD_FEATURES)


# The same from the order aggregates, for an origin after every order of the customer (see _CURRENT_SQL): customers
# with an order dated at or after `cut_off` are read from the orders instead.
_CURRENT_BTYD_SQL = """
SELECT c.id, c.region_id,
       COALESCE(h.purchase_days, 0),
       COALESCE(date_part('epoch', (%(as_of)s - h.first_purchase_at)) / 86400.0, 0),
       COALESCE(date_part('epoch', (%(as_of)s - h.last_purchase_at)) / 86400.0, 0),
       COALESCE(h.spend / NULLIF(h.orders, 0), 0),
       COALESCE(h.last_order_at >= %(cut_off)s, false)
FROM cartportal_customer c
LEFT JOIN cartportal_customerhistory h
       ON h.customer_id = c.id AND h.region_id = c.region_id
      AND h.customer_id BETWEEN %(id_from)s AND %(id_to)s AND h.region_id = %(region)s
WHERE c.region_id = %(region)s AND c.id BETWEEN %(id_from)s AND %(id_to)s AND c.erased_at IS NULL
ORDER BY c.id
"""


def current_btyd_features(
    *, region_id: int, id_from: int, id_to: int, as_of: dt.datetime, cut_off: dt.datetime
) -> pd.DataFrame:
    """`btyd_features` at the origin `as_of` (a region's data end, at most `cut_off`), read from the aggregates."""
    params = {"as_of": as_of, "cut_off": cut_off, "region": region_id, "id_from": id_from, "id_to": id_to}
    frame = _read_rows(_CURRENT_BTYD_SQL, params, [*BTYD_FEATURES, "unsettled"])
    unsettled = frame.index[frame.pop("unsettled").to_numpy() > 0]
    if len(unsettled):
        exact = btyd_features(
            region_id=region_id, id_from=int(unsettled.min()), id_to=int(unsettled.max()), as_of=as_of
        )
        frame.loc[unsettled] = exact.loc[unsettled, frame.columns]
    return frame


def _read_rows(text: str, params: dict, columns: list[str]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=["customer_id", "region_id", *columns]).set_index("customer_id")
    frame.index = frame.index.astype(np.int64)
    return frame.astype({"region_id": np.int64} | {name: np.float64 for name in columns})
