"""Import speed: cart events against a bare COPY of the same rows, and transactions with stale statistics.

    python bench/ingest.py [--case copy|stale-statistics|all] [--rows 10000000] [--keep-db]

Case "copy" (cart events against a bare COPY):

Generates, in a temporary folder, the customers, products and sessions a cart-event export refers to and a
cart-event CSV of --rows rows; loads the references through the importer (not timed), then times

  1. the importer end to end (read, validate, resolve references, de-duplicate, COPY to staging, INSERT into
     the real table, quarantine, JobRun counts), and
  2. a bare `COPY ... FROM STDIN` of the same rows: the file as it is into a plain table with its columns, and
     the rows as the importer stored them (ids resolved) into a table like the cart-event table (same indexes),

all in one scratch database created for the run (dropped afterwards unless --keep-db). Prints rows per
second for each and the ratio importer / COPY; the goal is a ratio of at least 0.5.

Case "stale statistics" (needs the Online Retail export in CARTPORTAL_DATA_DIR): in a scratch database whose
tables were analysed while empty (as on a fresh install, or a CI database), `import_transactions` loads a copy of
online_retail_first70050rows.csv with every invoice and customer id renamed (the same rows, other keys); then,
with statistics refreshed, it loads the original file: the same number of rows of the same shape (into tables
that already hold one copy, so the fresh import has, if anything, more work). Both imports run as the
application role. Prints both times and their ratio stale / fresh; the goal is a ratio of at most 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL = 0.5
KINDS = np.array(["add", "add", "add", "remove", "checkout", "purchase"])
HEADER = ["event_id", "session_id", "customer_id", "sku", "event", "price", "quantity", "timestamp"]


def setup_django(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    os.environ.setdefault("CARTPORTAL_DB_AS_OWNER", "1")  # the scratch database is created and migrated here
    from cartportal.devservices import ensure_env

    ensure_env()
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = database


def generate(folder: Path, rows: int, seed: int = 11) -> dict[str, Path]:
    """Reference files and the event file. Distributions: customers ~ rows/50, sessions ~ rows/20 (each
    belonging to a random customer), 20,000 products with log-normal prices (median ~12), events uniformly
    over 2024 with add 50 %, remove / checkout / purchase ~17 % each, quantities 1-4."""
    rng = np.random.default_rng(seed)
    n_customers, n_sessions, n_products = max(10, rows // 50), max(10, rows // 20), min(20_000, max(10, rows // 10))
    paths = {name: folder / f"{name}.csv" for name in ("customers", "products", "sessions", "cart_events")}
    pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n_customers)],
            "region": "BENCH",
            "signup_date": "2023-06-01",
        }
    ).to_csv(paths["customers"], index=False)
    prices = np.round(np.exp(rng.normal(2.5, 0.8, n_products)), 2)
    pd.DataFrame({"sku": [f"P{i}" for i in range(n_products)], "name": "bench product", "price": prices}).to_csv(
        paths["products"], index=False
    )
    session_customer = rng.integers(0, n_customers, n_sessions)
    pd.DataFrame(
        {
            "session_id": [f"S{i}" for i in range(n_sessions)],
            "customer_id": [f"C{c}" for c in session_customer],
            "region": "BENCH",
            "timestamp": "2024-01-01 00:00:00",
        }
    ).to_csv(paths["sessions"], index=False)
    start = np.datetime64("2024-01-01T00:00:00")
    chunk = 1_000_000
    with paths["cart_events"].open("w", encoding="utf-8") as out:
        out.write(",".join(HEADER) + "\n")
        for first in range(0, rows, chunk):
            n = min(chunk, rows - first)
            session = rng.integers(0, n_sessions, n)
            product = rng.integers(0, n_products, n)
            seconds = rng.integers(0, 366 * 86400, n)
            frame = pd.DataFrame(
                {
                    "event_id": np.char.add("E", np.arange(first, first + n).astype(str)),
                    "session_id": np.char.add("S", session.astype(str)),
                    "customer_id": np.char.add("C", session_customer[session].astype(str)),
                    "sku": np.char.add("P", product.astype(str)),
                    "event": KINDS[rng.integers(0, len(KINDS), n)],
                    "price": prices[product],
                    "quantity": rng.integers(1, 5, n),
                    "timestamp": np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="s"),
                }
            )
            frame["timestamp"] = frame["timestamp"].str.replace("T", " ", regex=False)
            frame.to_csv(out, index=False, header=False)
    return paths


def import_file(kind: str, path: Path, actor, region: str | None = None):
    from cartportal.ingest.pipeline import ImportOptions
    from cartportal.ingest.services import import_run

    job = import_run(actor=actor, source=path, options=ImportOptions(kind=kind, region=region, filename=path.name))
    counts = job.counts
    if counts.get("loaded", 0) + counts.get("duplicates", 0) != counts.get("read", -1):
        raise SystemExit(f"{kind}: not every row loaded: {counts}")
    return counts


def timed_copy(cursor, path: Path, table: str, columns: str = "", header: bool = True) -> tuple[float, int]:
    started = time.perf_counter()
    sql = f"COPY {table} {columns} FROM STDIN (FORMAT csv, HEADER {'true' if header else 'false'})"
    with path.open("rb") as source, cursor.copy(sql) as copy:
        while block := source.read(1 << 20):
            copy.write(block)
    elapsed = time.perf_counter() - started
    cursor.execute(f"SELECT count(*) FROM {table}")
    return elapsed, cursor.fetchone()[0]


def bare_copies(path: Path, folder: Path) -> dict[str, tuple[float, int]]:
    """1. the file as it is into a plain table with its columns; 2. the same rows as the importer stored them
    (ids resolved) into a table like the cart-event table, with the same indexes and unique constraints."""
    from django.db import connection

    columns = "(session_id, customer_id, region_id, product_id, kind, unit_price, quantity, occurred_at, source_key)"
    resolved = folder / "resolved.csv"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_file (event_id text, session_id text, customer_id text, sku text, event text, "
            "price numeric, quantity int, occurred_at timestamptz)"
        )
        cursor.execute("CREATE TABLE bench_like (LIKE cartportal_cartevent INCLUDING ALL)")
        with (
            resolved.open("wb") as out,
            cursor.copy(
                f"COPY (SELECT {columns.strip('()')} FROM cartportal_cartevent) TO STDOUT (FORMAT csv)"
            ) as copy,
        ):
            for block in copy:
                out.write(block)
        return {
            "file into a plain table": timed_copy(cursor, path, "bench_file"),
            "resolved rows into a table like cart events": timed_copy(
                cursor, resolved, "bench_like", columns, header=False
            ),
        }


RETAIL_FILE = "online_retail_first70050rows.csv"
RETAIL_ARGS = ["--customer-col", "CustomerID", "--date-col", "InvoiceDate", "--quantity-col", "Quantity"]
RETAIL_ARGS += ["--price-col", "UnitPrice", "--product-col", "StockCode", "--invoice-col", "InvoiceNo"]
RETAIL_ARGS += ["--region-col", "Country"]
STALE_GOAL = 2.0
COMMERCE_TABLES = ["cartportal_customer", "cartportal_product", "cartportal_order", "cartportal_orderline"]


def renamed_copy(source: Path, target: Path) -> None:
    """The same rows with other keys: every invoice and customer id gets a suffix (a leading C still marks a
    cancellation, and a cancellation still names the invoice it cancels)."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    for column in ("InvoiceNo", "CustomerID"):
        frame[column] = frame[column].where(frame[column].eq(""), frame[column] + "R")
    frame.to_csv(target, index=False)


def timed_import(path: Path) -> tuple[float, dict]:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command("import_transactions", str(path), *RETAIL_ARGS, stdout=out)
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(out.getvalue().strip().splitlines()[-1])


def connect_as(user: str, password: str) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict.update(USER=user, PASSWORD=password)


def analyse_as_owner(owner: tuple[str, str], tables: list[str]) -> None:
    from django.db import connection

    connect_as(*owner)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def stale_statistics_case(args) -> None:
    """Imports run as the application role, as the portal's do: it does not own the tables, so it may not be
    allowed to refresh their statistics itself."""
    import environ
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    folder = Path(os.environ.get("CARTPORTAL_DATA_DIR") or ROOT.parent / "shared" / "data")
    source = folder / RETAIL_FILE
    if not source.exists():
        raise SystemExit(f"stale statistics: {source} not found (set CARTPORTAL_DATA_DIR)")
    app = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    application = (app["USER"], app.get("PASSWORD", ""))
    with tempfile.TemporaryDirectory(prefix="cartportal-bench-") as tmp:
        renamed = Path(tmp) / "renamed.csv"
        renamed_copy(source, renamed)
        old_config = setup_databases(verbosity=0, interactive=False, keepdb=False)
        owner = (connection.settings_dict["USER"], connection.settings_dict["PASSWORD"])
        try:
            analyse_as_owner(owner, COMMERCE_TABLES)  # statistics of empty tables
            connect_as(*application)
            stale, stale_counts = timed_import(renamed)
            analyse_as_owner(owner, COMMERCE_TABLES)
            connect_as(*application)
            fresh, fresh_counts = timed_import(source)
        finally:
            connect_as(*owner)
            if not args.keep_db:
                teardown_databases(old_config, verbosity=0)
    for label, counts in (("stale", stale_counts), ("fresh", fresh_counts)):
        print(f"{label} statistics: {json.dumps(counts)}")
    if {k: v for k, v in stale_counts.items() if k != "job"} != {k: v for k, v in fresh_counts.items() if k != "job"}:
        raise SystemExit("the two imports counted differently")
    ratio = stale / fresh
    verdict = "OK" if ratio <= STALE_GOAL else "ABOVE GOAL"
    print(f"import with statistics taken while empty: {stale:.1f} s; with fresh statistics: {fresh:.1f} s")
    print(f"  ratio stale / fresh = {ratio:.2f} (goal <= {STALE_GOAL:g}) {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=["copy", "stale-statistics", "all"], default="all")
    parser.add_argument("--rows", type=int, default=10_000_000, help="cart events of the copy case")
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch database for inspection")
    parser.add_argument("--database", default="cartportal_bench_ingest")
    args = parser.parse_args()
    setup_django(args.database)
    if args.case in {"stale-statistics", "all"}:
        stale_statistics_case(args)
    if args.case in {"copy", "all"}:
        copy_case(args)
    return 0


def copy_case(args) -> None:
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from cartportal.access import SystemActor
    from cartportal.models import CartEvent, Region

    with tempfile.TemporaryDirectory(prefix="cartportal-bench-") as tmp:
        started = time.perf_counter()
        paths = generate(Path(tmp), args.rows)
        size = paths["cart_events"].stat().st_size
        print(f"generated {args.rows:,} cart events ({size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s")
        old_config = setup_databases(verbosity=0, interactive=False, keepdb=False)
        try:
            actor = SystemActor("command:bench-ingest")
            Region.objects.create(code="BENCH", name="Bench")
            for kind in ("customers", "products", "sessions"):
                counts = import_file(kind, paths[kind], actor)
                print(f"references: {kind} {counts['loaded']:,} loaded")
            started = time.perf_counter()
            counts = import_file("cart_events", paths["cart_events"], actor)
            importer = time.perf_counter() - started
            loaded = CartEvent.objects.count()
            if loaded != args.rows:
                raise SystemExit(f"importer loaded {loaded:,} of {args.rows:,} rows: {counts}")
            copies = bare_copies(paths["cart_events"], Path(tmp))
        finally:
            connection.close()
            if not args.keep_db:
                teardown_databases(old_config, verbosity=0)
    importer_rate = args.rows / importer
    print(f"importer: {args.rows:,} rows in {importer:.1f} s = {importer_rate:,.0f} rows/s")
    for label, (seconds, copied) in copies.items():
        if copied != args.rows:
            raise SystemExit(f"COPY ({label}) loaded {copied:,} of {args.rows:,} rows")
        rate = args.rows / seconds
        ratio = importer_rate / rate
        print(f"bare COPY, {label}: {seconds:.1f} s = {rate:,.0f} rows/s")
        print(f"  ratio importer / COPY = {ratio:.3f} (goal >= {GOAL}) {'OK' if ratio >= GOAL else 'BELOW GOAL'}")


if __name__ == "__main__":
    raise SystemExit(main())
