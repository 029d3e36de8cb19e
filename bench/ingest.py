"""Import throughput: a cart-event file through the whole import pipeline vs. a bare COPY of the same rows.

    python bench/ingest.py [--rows 10000000]

Generates the file (and the sessions and products it refers to) in a temporary folder, loads it with the
import pipeline (validation, reference checks, de-duplication, quarantine, COPY, insert), then COPYs the same
rows, already resolved to ids, into an identical table with the same indexes in the same database. Prints
rows per second for both and their ratio (goal: at least 0.5 of COPY). Uses the configured database
(the embedded one by default); it removes its rows afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    from cartportal.devservices import ensure_env

    ensure_env()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    os.environ.setdefault("CARTPORTAL_DB_AS_OWNER", "1")
    import django

    django.setup()


def write_files(folder: Path, rows: int, region_id: int, seed: int = 1) -> tuple[Path, Path]:
    """The import file (external ids) and the same rows resolved to ids (for the bare COPY)."""
    rng = np.random.default_rng(seed)
    from cartportal.models import Product, Session

    session_ids = dict(Session.objects.filter(external_id__startswith="BENCH-S").values_list("external_id", "id"))
    product_ids = dict(Product.objects.filter(sku__startswith="BENCH-P").values_list("sku", "id"))
    s_ext = np.array(sorted(session_ids))
    p_ext = np.array(sorted(product_ids))
    s_id = np.array([session_ids[s] for s in s_ext])
    p_id = np.array([product_ids[p] for p in p_ext])
    kinds = np.array(["add", "remove", "checkout", "purchase"])
    base = np.datetime64("2025-01-01T00:00:00")
    source, resolved = folder / "cart_events.csv", folder / "resolved.csv"
    with source.open("w") as out, resolved.open("w") as res:
        out.write("event_id,session_id,sku,event,price,quantity,timestamp\n")
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            si, pi = rng.integers(0, len(s_ext), n), rng.integers(0, len(p_ext), n)
            kind = kinds[rng.integers(0, 4, n)]
            price = np.round(rng.lognormal(3, 0.6, n), 2).astype(str)
            qty = rng.integers(1, 4, n).astype(str)
            when = (base + rng.integers(0, 300 * 86400, n).astype("timedelta64[s]")).astype(str)
            ids = np.char.add("E", np.arange(start, start + n).astype(str))
            cols = [ids, s_ext[si], p_ext[pi], kind, price, qty, np.char.replace(when, "T", " ")]
            out.write("\n".join(",".join(r) for r in zip(*cols, strict=True)) + "\n")
            rcols = [
                s_id[si].astype(str),
                p_id[pi].astype(str),
                kind,
                price,
                qty,
                np.char.add(when, "+00"),
                ids,
                np.full(n, str(region_id)),
            ]
            res.write("\n".join(",".join(r) for r in zip(*rcols, strict=True)) + "\n")
    return source, resolved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=5_000)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from cartportal.access import SystemActor
    from cartportal.ingest.pipeline import ImportOptions
    from cartportal.ingest.services import import_run
    from cartportal.models import Region

    region, _ = Region.objects.get_or_create(code="BENCH", defaults={"name": "Benchmark"})
    cleanup(connection, region)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cartportal_product (sku, name, category, price, house_brand) "
            "SELECT 'BENCH-P' || g, 'p', 'bench', 10, false FROM generate_series(1, %s) g",
            [args.products],
        )
        cursor.execute(
            "INSERT INTO cartportal_session (external_id, region_id, weekend, special_day, device, "
            "operating_system, browser, traffic_source, visitor_type, administrative_pages, "
            "administrative_duration, informational_pages, informational_duration, product_pages, "
            "product_duration, bounce_rate, exit_rate, page_value, is_bot) "
            "SELECT 'BENCH-S' || g, %s, false, 0, '', '', '', '', '', 0, 0, 0, 0, 0, 0, 0, 0, 0, false "
            "FROM generate_series(1, %s) g",
            [region.pk, args.sessions],
        )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        source, resolved = write_files(Path(tmp), args.rows, region.pk)
        print(
            f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f} s ({source.stat().st_size / 1e6:.0f} MB)",
            flush=True,
        )

        t = time.perf_counter()
        job = import_run(
            actor=SystemActor("bench:ingest"),
            source=source,
            options=ImportOptions(kind="cart_events", region="BENCH", guess_columns=True),
        )
        pipeline_s = time.perf_counter() - t
        counts = job.counts
        assert counts["loaded"] == args.rows, counts

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy")
            cursor.execute("CREATE TABLE bench_copy (LIKE cartportal_cartevent INCLUDING ALL)")
        t = time.perf_counter()
        with connection.cursor() as cursor, resolved.open("rb") as handle:
            with cursor.copy(
                "COPY bench_copy (session_id, product_id, kind, unit_price, quantity, occurred_at, "
                "source_key, region_id) FROM STDIN (FORMAT csv)"
            ) as copy:
                while block := handle.read(8 << 20):
                    copy.write(block)
        copy_s = time.perf_counter() - t
    pipeline_rate, copy_rate = args.rows / pipeline_s, args.rows / copy_s
    print(f"import pipeline: {pipeline_s:.1f} s, {pipeline_rate:,.0f} rows/s")
    print(f"bare COPY:       {copy_s:.1f} s, {copy_rate:,.0f} rows/s")
    print(f"ratio to COPY:   {pipeline_rate / copy_rate:.2f} (goal >= 0.50)")
    cleanup(connection, region)


def cleanup(connection, region) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute("DELETE FROM cartportal_cartevent WHERE region_id = %s", [region.pk])
        cursor.execute("DELETE FROM cartportal_session WHERE external_id LIKE 'BENCH-S%%'")
        cursor.execute("DELETE FROM cartportal_product WHERE sku LIKE 'BENCH-P%%'")


if __name__ == "__main__":
    main()
