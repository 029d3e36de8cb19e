"""Benchmark: rebuild every segment (RFM, value groups, dormancy, promotion base, this month's snapshot, personas)
for 1M synthetic customers with orders, as a daily rebuild does it: before each timed rebuild one more day of orders
arrives (0.5 % of the customers order once, the day after the latest order), so the reference date moves, every
customer's recency changes and some customers change segment. Prints the seconds, the ratio to the 60 s limit and
how many snapshot rows the rebuild changed.

Run: python bench/segments.py [--customers N] [--new-month]   (uses the configured database; writes a
BENCH-<N> region, loaded once and reused by later runs; with --new-month the day of orders is the first of the next
month, so the rebuild is the first of a month: it inserts every row of the month's snapshot)
Synthetic data (seeded): orders per customer ~ 1 + Poisson(1.5), placed uniformly over the last 400 days, order
totals lognormal(3.5, 0.8), 3 % cancellations with negative totals; lines per order ~ 1 + Poisson(0.5), each a
SKU out of 2,000 at its list price, or 20 % below it on 20 % of lines; 30 % of customers have 1 + Poisson(2)
browsing sessions with Poisson(6) product pages. Loaded with COPY.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
LIMIT_SECONDS = 60.0
DAY_SHARE = 0.005
END = "2026-01-01T00:00:00"


def _copy(cursor, table_columns: str, frame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with cursor.cursor.copy(f"COPY {table_columns} FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def _moments(rng, n: int):
    import numpy as np

    seconds = (rng.uniform(0, 400, n) * 86400).astype("timedelta64[s]")
    return np.datetime_as_string(np.datetime64(END) - seconds) + "Z"


def load(customers: int, region_id: int) -> None:
    import numpy as np
    import pandas as pd
    from django.db import connection

    rng = np.random.default_rng(1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM cartportal_customer")
        base = cursor.fetchone()[0] + 1
        ids = base + np.arange(customers)
        tag = f"bench{region_id}"
        _copy(
            cursor,
            "cartportal_customer (id, external_id, region_id, name, email, acquisition_source, device, age_band, "
            "gender, consent_personalisation, consent_marketing)",
            pd.DataFrame(
                {
                    "id": ids,
                    "ext": [f"{tag}-{i}" for i in ids],
                    "region": region_id,
                    "a": "",
                    "b": "",
                    "c": "",
                    "d": "",
                    "e": "",
                    "f": "",
                    "g": True,
                    "h": True,
                }
            ),
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence('cartportal_customer', 'id'), %s)", [int(ids[-1])])

        owner = np.repeat(ids, 1 + rng.poisson(1.5, customers))
        n = len(owner)
        cursor.execute("SELECT coalesce(max(id), 0) FROM cartportal_order")
        order_ids = cursor.fetchone()[0] + 1 + np.arange(n)
        totals = np.round(rng.lognormal(3.5, 0.8, n), 2)
        cancelled = rng.random(n) < 0.03
        totals[cancelled] *= -1
        _copy(
            cursor,
            "cartportal_order (id, external_id, customer_id, region_id, placed_at, freight, total, status)",
            pd.DataFrame(
                {
                    "id": order_ids,
                    "ext": [f"{tag}-o{i}" for i in order_ids],
                    "customer": owner,
                    "region": region_id,
                    "placed": _moments(rng, n),
                    "freight": 0,
                    "total": totals,
                    "status": np.where(cancelled, "cancelled", "placed"),
                }
            ),
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence('cartportal_order', 'id'), %s)", [int(order_ids[-1])])

        per_order = 1 + rng.poisson(0.5, n)
        line_order = np.repeat(order_ids, per_order)
        line_no = np.arange(len(line_order)) - np.repeat(np.cumsum(per_order) - per_order, per_order) + 1
        sku = rng.integers(0, 2000, len(line_order))
        list_price = np.round(np.random.default_rng(2).lognormal(2.0, 0.7, 2000), 2)
        price = np.round(list_price[sku] * np.where(rng.random(len(sku)) < 0.2, 0.8, 1.0), 4)
        quantity = 1 + rng.poisson(1.0, len(sku))
        _copy(
            cursor,
            "cartportal_orderline (order_id, region_id, line_no, sku, quantity, unit_price, amount)",
            pd.DataFrame(
                {
                    "order": line_order,
                    "region": region_id,
                    "line": line_no,
                    "sku": [f"S{s}" for s in sku],
                    "qty": quantity,
                    "price": price,
                    "amount": np.round(price * quantity, 2),
                }
            ),
        )

        browsers = ids[rng.random(customers) < 0.3]
        visitor = np.repeat(browsers, 1 + rng.poisson(2.0, len(browsers)))
        _copy(
            cursor,
            "cartportal_session (external_id, customer_id, region_id, started_at, weekend, special_day, device, "
            "operating_system, browser, traffic_source, visitor_type, administrative_pages, administrative_duration, "
            "informational_pages, informational_duration, product_pages, product_duration, bounce_rate, exit_rate, "
            "page_value, is_bot)",
            pd.DataFrame(
                {
                    "ext": [f"{tag}-s{i}" for i in range(len(visitor))],
                    "customer": visitor,
                    "region": region_id,
                    "started": _moments(rng, len(visitor)),
                    "weekend": False,
                    "sd": 0,
                    "device": "",
                    "os": "",
                    "browser": "",
                    "traffic": "",
                    "visitor": "",
                    "ap": 0,
                    "ad": 0,
                    "ip": 0,
                    "idur": 0,
                    "pp": rng.poisson(6.0, len(visitor)),
                    "pd": 0,
                    "br": 0,
                    "er": 0,
                    "pv": 0,
                    "bot": False,
                }
            ),
        )
        cursor.execute("ANALYZE cartportal_customer, cartportal_order, cartportal_orderline, cartportal_session")


def add_day(region_id: int, new_month: bool = False) -> str:
    """One more day of orders (one line each) for DAY_SHARE of the region's customers, the day after its latest
    order (or the first day of the next month); returns that day."""
    import numpy as np
    import pandas as pd
    from django.db import connection

    tag = f"bench{region_id}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id), max(placed_at) FROM cartportal_customer c "
            "LEFT JOIN LATERAL (SELECT max(placed_at) AS placed_at FROM cartportal_order "
            "WHERE region_id = %s) o ON true WHERE c.region_id = %s",
            [region_id, region_id],
        )
        lo, hi, latest = cursor.fetchone()
        following = pd.Timestamp(latest) + pd.Timedelta(days=1)
        if new_month:
            following = (following.normalize() + pd.offsets.MonthBegin(1)).replace(hour=12)
        day = following.strftime("%Y-%m-%dT%H:%M:%SZ")
        cursor.execute("SELECT coalesce(max(id), 0) FROM cartportal_order")
        first_id = cursor.fetchone()[0] + 1
        rng = np.random.default_rng(first_id)
        buyers = rng.choice(np.arange(lo, hi + 1), size=max(1, int((hi - lo + 1) * DAY_SHARE)), replace=False)
        order_ids = first_id + np.arange(len(buyers))
        totals = np.round(rng.lognormal(3.5, 0.8, len(buyers)), 2)
        _copy(
            cursor,
            "cartportal_order (id, external_id, customer_id, region_id, placed_at, freight, total, status)",
            pd.DataFrame(
                {
                    "id": order_ids,
                    "ext": [f"{tag}-o{i}" for i in order_ids],
                    "customer": buyers,
                    "region": region_id,
                    "placed": day,
                    "freight": 0,
                    "total": totals,
                    "status": "placed",
                }
            ),
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence('cartportal_order', 'id'), %s)", [int(order_ids[-1])])
        sku = rng.integers(0, 2000, len(buyers))
        _copy(
            cursor,
            "cartportal_orderline (order_id, region_id, line_no, sku, quantity, unit_price, amount)",
            pd.DataFrame(
                {
                    "order": order_ids,
                    "region": region_id,
                    "line": 1,
                    "sku": [f"S{s}" for s in sku],
                    "qty": 1,
                    "price": totals,
                    "amount": totals,
                }
            ),
        )
    return day[:10]


def main() -> None:
    import django

    from cartportal.devservices import ensure_env

    ensure_env()
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--new-month", action="store_true", help="time the first rebuild of a month")
    args = parser.parse_args()
    django.setup()
    from django.db import transaction

    from cartportal.models import Customer, Region
    from segments.services import segments_rebuild

    region, _ = Region.objects.get_or_create(code=f"BENCH-{args.customers}", defaults={"name": "Benchmark"})
    if not Customer.objects.filter(region=region).exists():
        started = time.perf_counter()
        with transaction.atomic():
            load(args.customers, region.pk)
        print(f"loaded {args.customers} customers in {time.perf_counter() - started:.0f} s")
    with transaction.atomic():
        day = add_day(region.pk, new_month=args.new_month)
    print(f"one more day of orders: {day}")
    start = time.perf_counter()

    def stage(_progress: float, message: str) -> None:
        print(f"  {time.perf_counter() - start:6.1f} s  {message}", file=sys.stderr)

    result = segments_rebuild(actor="command:bench", region_ids=[region.pk], progress=stage)
    seconds = time.perf_counter() - start
    changed = ", ".join(f"{rows} {action}" for action, rows in result.snapshot_rows.items())
    print(
        f"customers {result.customers}: segments rebuilt in {seconds:.1f} s; "
        f"ratio to the {LIMIT_SECONDS:.0f} s limit {seconds / LIMIT_SECONDS:.2f} (snapshot rows: {changed})"
    )


if __name__ == "__main__":
    main()
