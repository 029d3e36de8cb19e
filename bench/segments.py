"""Benchmark: rebuild every segment (RFM, value groups, dormancy, promotion base, snapshot, personas) for 1M
synthetic customers with orders. Prints the seconds and the ratio to the 120 s limit.

Run: python bench/segments.py [--customers N]   (uses the configured database; writes a BENCH region)
Synthetic data: orders per customer ~ 1 + Poisson(1.5), order totals lognormal(3.5, 0.8), placed uniformly over
the last 400 days, 3 % cancellations with negative totals; one order line per order. Loaded with COPY.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
LIMIT_SECONDS = 120.0


def load(customers: int, region_id: int) -> None:
    import numpy as np
    from django.db import connection

    rng = np.random.default_rng(1)
    per_customer = 1 + rng.poisson(1.5, customers)
    owner = np.repeat(np.arange(customers), per_customer)
    n = len(owner)
    totals = np.round(rng.lognormal(3.5, 0.8, n), 2)
    cancelled = rng.random(n) < 0.03
    totals[cancelled] *= -1
    placed = (np.datetime64("2026-01-01T00:00:00") - (rng.uniform(0, 400, n) * 86400).astype("timedelta64[s]")).astype(
        str
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM cartportal_customer")
        base = cursor.fetchone()[0] + 1
        with cursor.cursor.copy(
            "COPY cartportal_customer (id, external_id, region_id, name, email, acquisition_source, "
            "device, age_band, gender, consent_personalisation, consent_marketing) FROM STDIN"
        ) as copy:
            for i in range(customers):
                copy.write_row((base + i, f"bench-{base + i}", region_id, "", "", "", "", "", "", True, True))
        cursor.execute("SELECT setval(pg_get_serial_sequence('cartportal_customer', 'id'), %s)", [base + customers])
        with cursor.cursor.copy(
            "COPY cartportal_order (external_id, customer_id, region_id, placed_at, freight, total, status) FROM STDIN"
        ) as copy:
            for j in range(n):
                copy.write_row(
                    (
                        f"bench-o{base}-{j}",
                        base + int(owner[j]),
                        region_id,
                        placed[j] + "Z",
                        0,
                        float(totals[j]),
                        "cancelled" if cancelled[j] else "placed",
                    )
                )
        cursor.execute("ANALYZE cartportal_customer; ANALYZE cartportal_order")


def main() -> None:
    import django

    from cartportal.devservices import ensure_env

    ensure_env()
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    django.setup()
    from django.db import transaction

    from cartportal.models import Region
    from segments.services import segments_rebuild

    region, _ = Region.objects.get_or_create(code="BENCH", defaults={"name": "Benchmark"})
    with transaction.atomic():
        load(args.customers, region.pk)
    start = time.perf_counter()
    result = segments_rebuild(actor="command:bench", region_ids=[region.pk])
    seconds = time.perf_counter() - start
    print(
        f"customers {result.customers}: segments rebuilt in {seconds:.1f} s; "
        f"ratio to the {LIMIT_SECONDS:.0f} s limit {seconds / LIMIT_SECONDS:.2f}"
    )


if __name__ == "__main__":
    main()
