"""Server time of every portal tab with a large shop loaded.

    python bench/pages.py [--customers 1000000] [--events 10000000] [--requests 20] [--database cartportal_bench]
    python bench/pages.py --demo [--requests 20] [--database cartportal_demo]

Loads (once; a later run reuses the rows) a synthetic shop into a database of its own: regions, products,
customers, sessions, cart events (adds, removes, checkouts, purchases) and the orders those purchases made,
all written with COPY. Then, for an executive (every region) and a regional manager (one region), requests
every tab the user is shown through Django's test client N times and prints the 95th-percentile server time
of each and its ratio to the 300 ms limit; separately the first request after a new row arrives (rollups that
were slow to compute are served as they were and refreshed by a Celery task) and the cold request of a scope
that nothing is computed for yet, in the cache or in PostgreSQL (computed in the request). The first load after a
restart is timed in a fresh process (nothing in its memory), once with the shared cache kept (a web process
restarted) and once with it emptied too (everything restarted; what PostgreSQL keeps survives). The last line is a
JSON summary.

With --demo, the shop is the demo's (`manage.py seed_demo` with the generated data, seeded once into a database
of its own) and the users are the demo's logins (manager_de, manager_uk, executive, compliance, analyst); the
first-load limit there is 1 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIMIT_MS = 300.0
DEMO_FIRST_LOAD_LIMIT_MS = 1000.0
DEMO_USERS = ["manager_de", "manager_uk", "executive", "compliance", "analyst"]
REGIONS = 8
PRODUCTS = 5000
CATEGORIES = 24
DAYS = 730
CHUNK = 1_000_000


def _prepare_database(name: str, migrate: bool = True) -> None:
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
    os.environ["CARTPORTAL_DB_AS_OWNER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    from cartportal.devservices import ensure_env

    ensure_env()
    import psycopg

    with psycopg.connect(os.environ["DATABASE_OWNER_URL"], autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_NAME_OVERRIDE"] = name
    import django

    django.setup()
    from django.core.management import call_command

    if migrate:
        call_command("migrate", verbosity=0)


def _columns(table: str) -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
            [table],
        )
        return dict(cursor.fetchall())


def _zero(data_type: str):
    if data_type == "boolean":
        return False
    if data_type in ("integer", "smallint", "bigint", "double precision", "numeric", "real"):
        return 0
    if data_type == "jsonb":
        return "{}"
    return ""


def copy_frame(table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into `table`, filling the table's other required columns with empty values."""
    from django.db import connection

    for column, data_type in _columns(table).items():
        if column not in frame.columns and column != "id":
            frame[column] = _zero(data_type)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(
            f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy:
            while data := buffer.read(1 << 20):
                copy.write(data)


def _timestamps(rng, n: int, start: pd.Timestamp) -> pd.Series:
    seconds = rng.integers(0, DAYS * 86400, n)
    return pd.Series(start + pd.to_timedelta(seconds, unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S+00")


def load_shop(customers: int, events: int, seed: int = 7) -> None:
    """Regions, products and customers, then sessions with 4 cart events each on average (adds first,
    then for some a checkout and a purchase) and one order per purchasing session."""
    from cartportal.models import Region

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01", tz="UTC")
    t0 = time.perf_counter()
    regions = [
        Region.objects.get_or_create(code=f"B{i}", defaults={"name": f"Bench {i}"})[0].pk for i in range(REGIONS)
    ]
    region_of = np.array(regions)
    prices = np.round(rng.lognormal(3, 0.8, PRODUCTS), 2)
    copy_frame(
        "cartportal_product",
        pd.DataFrame(
            {
                "sku": [f"BSKU{i}" for i in range(PRODUCTS)],
                "category": [f"category {i % CATEGORIES}" for i in range(PRODUCTS)],
                "price": prices,
                "house_brand": rng.random(PRODUCTS) < 0.1,
            }
        ),
    )
    from cartportal.models import Product

    product_ids = np.array(Product.objects.filter(sku__startswith="BSKU").order_by("id").values_list("id", flat=True))
    for lo in range(0, customers, CHUNK):
        n = min(CHUNK, customers - lo)
        copy_frame(
            "cartportal_customer",
            pd.DataFrame(
                {
                    "external_id": [f"BC{i}" for i in range(lo, lo + n)],
                    "region_id": region_of[rng.integers(0, REGIONS, n)],
                    "first_seen": _timestamps(rng, n, start),
                    "consent_personalisation": True,
                    "consent_marketing": True,
                }
            ),
        )
    print(f"  customers loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM cartportal_customer WHERE external_id LIKE 'BC%%'")
        first_customer, last_customer = cursor.fetchone()
    sessions = events // 4
    session_lo = 0
    per_chunk = CHUNK // 4
    while session_lo < sessions:
        n = min(per_chunk, sessions - session_lo)
        _load_sessions_chunk(rng, start, n, session_lo, first_customer, last_customer, product_ids, prices)
        session_lo += n
        print(f"  sessions {session_lo:,}/{sessions:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        for table in ("customer", "product", "session", "cartevent", "order", "orderline"):
            cursor.execute(f"ANALYZE cartportal_{table}")


def _load_sessions_chunk(rng, start, n, lo, first_customer, last_customer, product_ids, prices) -> None:
    from django.db import connection

    customer = rng.integers(first_customer, last_customer + 1, n)
    started = start + pd.to_timedelta(rng.integers(0, DAYS * 86400, n), unit="s")
    pages = rng.poisson(12, n)
    bought = rng.random(n) < (0.08 + 0.25 * (pages > 15))
    frame = pd.DataFrame(
        {
            "external_id": [f"BS{i}" for i in range(lo, lo + n)],
            "customer_id": customer,
            "started_at": pd.Series(started).dt.strftime("%Y-%m-%d %H:%M:%S+00"),
            "visitor_type": np.where(rng.random(n) < 0.8, "Returning_Visitor", "New_Visitor"),
            "product_pages": pages,
            "product_duration": pages * rng.gamma(2, 20, n),
            "converted": bought,
            "weekend": False,
            "special_day": 0,
            "is_bot": False,
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, region_id FROM cartportal_customer WHERE id = ANY(%s)", [list(map(int, np.unique(customer)))]
        )
        region_by_customer = dict(cursor.fetchall())
    frame["region_id"] = [region_by_customer[c] for c in customer]
    copy_frame("cartportal_session", frame)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM cartportal_session WHERE external_id = ANY(%s) ORDER BY id",
            [[f"BS{lo}", f"BS{lo + n - 1}"]],
        )
        first_id, last_id = [r[0] for r in cursor.fetchall()]
    session_ids = np.arange(first_id, last_id + 1)
    adds = np.where(bought, 2, 3 + rng.integers(0, 3, n))
    rows = np.repeat(np.arange(n), adds)
    product = product_ids[rng.integers(0, len(product_ids), len(rows))]
    list_price = prices[np.searchsorted(product_ids, product)]
    discount = np.where(rng.random(len(rows)) < 0.3, rng.choice([0.95, 0.85, 0.7], len(rows)), 1.0)
    kind = np.full(len(rows), "add", dtype=object)
    buyers = np.flatnonzero(bought)
    when = started.values[rows] + pd.to_timedelta(rng.integers(0, 1800, len(rows)), unit="s").values
    cart = pd.DataFrame(
        {
            "session_id": session_ids[rows],
            "customer_id": customer[rows],
            "region_id": frame["region_id"].values[rows],
            "product_id": product,
            "kind": kind,
            "unit_price": np.round(list_price * discount, 2),
            "quantity": 1,
            "occurred_at": when,
        }
    )
    extra = cart.groupby("session_id", sort=False).head(1)
    extra = extra[extra["session_id"].isin(session_ids[buyers])]
    checkout = extra.assign(kind="checkout")
    purchase = extra.assign(kind="purchase", occurred_at=extra["occurred_at"] + pd.Timedelta(minutes=40))
    cart = pd.concat([cart, checkout, purchase], ignore_index=True)
    cart["occurred_at"] = pd.to_datetime(cart["occurred_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S+00")
    copy_frame("cartportal_cartevent", cart)
    orders = purchase.reset_index(drop=True)
    copy_frame(
        "cartportal_order",
        pd.DataFrame(
            {
                "external_id": [f"BO{sid}" for sid in orders["session_id"]],
                "customer_id": orders["customer_id"],
                "region_id": orders["region_id"],
                "placed_at": pd.to_datetime(orders["occurred_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S+00"),
                "total": orders["unit_price"] * 2,
                "freight": 0,
                "status": "placed",
            }
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, region_id FROM cartportal_order WHERE external_id = ANY(%s) ORDER BY id",
            [[f"BO{sid}" for sid in orders["session_id"]]],
        )
        placed = cursor.fetchall()
    order_ids = np.array([p[0] for p in placed])
    second = product_ids[rng.integers(0, len(product_ids), len(order_ids))]
    lines = pd.DataFrame(
        {
            "order_id": np.concatenate([order_ids, order_ids]),
            "region_id": np.concatenate([[p[1] for p in placed]] * 2),
            "line_no": np.repeat([1, 2], len(order_ids)),
            "product_id": np.concatenate([orders["product_id"].values, second]),
            "quantity": 1,
            "unit_price": np.concatenate([orders["unit_price"].values, prices[np.searchsorted(product_ids, second)]]),
        }
    )
    lines["amount"] = lines["unit_price"]
    copy_frame("cartportal_orderline", lines)


def _users():
    from django.contrib.auth import get_user_model

    from cartportal import access
    from cartportal.models import Region

    access.ensure_role_groups()
    User = get_user_model()
    executive, _ = User.objects.get_or_create(username="bench_executive")
    executive.groups.add(access.ensure_role_groups()[access.EXECUTIVE])
    manager, _ = User.objects.get_or_create(username="bench_manager")
    manager.groups.add(access.ensure_role_groups()[access.REGIONAL_MANAGER])
    access.grant_region(manager, Region.objects.get(code="B0"), access.REGIONAL_MANAGER)
    compliance, _ = User.objects.get_or_create(username="bench_compliance")
    compliance.groups.add(access.ensure_role_groups()[access.COMPLIANCE])
    return {"executive": executive, "manager": manager, "compliance": compliance}


def _new_row() -> object:
    """One more session: the data watermark moves, as it does whenever a shop's data arrives."""
    import uuid

    from cartportal.models import Region, Session

    return Session.objects.create(external_id=f"bench-new-{uuid.uuid4().hex}", region=Region.objects.order_by("pk")[0])


def _demo_users():
    from django.contrib.auth import get_user_model

    return {u.username: u for u in get_user_model().objects.filter(username__in=DEMO_USERS)}


def _get_ms(client, url: str) -> tuple[float, int]:
    t = time.perf_counter()
    response = client.get(url, secure=True)
    return (time.perf_counter() - t) * 1000, response.status_code


def first_load(username: str, url: str, empty_cache: bool) -> float:
    """The first request of a tab in this (fresh) process: what a user waits for after a restart."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    import cartportal.wsgi  # noqa: F401  (what a web process does when it starts: load the URLconf and every view)

    if empty_cache:
        cache.clear()
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    client.handler.load_middleware()  # as the WSGI handler does at start, not in the first request
    ms, status = _get_ms(client, url)
    assert status == 200, (username, url, status)
    return ms


def first_load_in_new_process(args, username: str, url: str, empty_cache: bool) -> float:
    command = [sys.executable, __file__, "--database", args.database, "--first-load", username, url]
    if empty_cache:
        command.append("--empty-cache")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"first load of {url} for {username} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def time_tabs(args, users: dict, limit_ms: float, first_limit_ms: float) -> list[dict]:
    from django.core.cache import cache
    from django.test import Client

    from cartportal.models import KeptResult
    from cartportal.portal.nav import tabs_for

    results = []
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        for tab in tabs_for(user):
            if tab["label"] in args.skip:
                continue
            cache.clear()
            KeptResult.objects.all().delete()
            cold, _ = _get_ms(client, tab["url"])  # nothing computed yet for this scope: computed in the request
            times = []
            for _ in range(args.requests):
                ms, status = _get_ms(client, tab["url"])
                times.append(ms)
                assert status == 200, (role, tab["url"], status)
            row = _new_row()
            after_new, _ = _get_ms(client, tab["url"])  # new data: served as before, refreshed by a Celery task
            row.delete()
            # a web process restarted (its memory empty, the shared cache as the requests above left it), then
            # everything restarted (the shared cache emptied too)
            restart = first_load_in_new_process(args, user.username, tab["url"], empty_cache=False)
            restart_cold = first_load_in_new_process(args, user.username, tab["url"], empty_cache=True)
            p95 = float(np.percentile(times, 95))
            results.append(
                {
                    "role": role,
                    "tab": tab["label"],
                    "url": tab["url"],
                    "p95_ms": round(p95, 1),
                    "median_ms": round(statistics.median(times), 1),
                    "ratio": round(p95 / limit_ms, 3),
                    "first_after_restart_ms": round(restart, 1),
                    "first_after_restart_ratio": round(restart / first_limit_ms, 3),
                    "first_after_restart_cache_emptied_ms": round(restart_cold, 1),
                    "first_after_restart_cache_emptied_ratio": round(restart_cold / first_limit_ms, 3),
                    "first_after_new_data_ms": round(after_new, 1),
                    "first_ratio": round(after_new / limit_ms, 3),
                    "cold_ms": round(cold, 1),
                }
            )
            print(
                f"{role:<11} {tab['label']:<12} p95 {p95:8.1f} ms (ratio to {limit_ms:.0f} ms {p95 / limit_ms:6.3f}) | "
                f"first after restart {restart:8.1f} ms, cache emptied too {restart_cold:8.1f} ms "
                f"(ratio to {first_limit_ms:.0f} ms {restart_cold / first_limit_ms:6.3f}) | "
                f"first after new data {after_new:8.1f} ms | cold scope {cold:8.1f} ms",
                flush=True,
            )
    return results


def _seed_demo() -> None:
    from io import StringIO

    from django.core.management import call_command

    from cartportal.models import Customer

    if not Customer.objects.exists():
        print("seeding the demo shop (manage.py seed_demo, generated data)", flush=True)
        call_command("seed_demo", "--data-dir=", stdout=StringIO())


def _load_bench_shop(args) -> None:
    from cartportal.models import Customer

    if not Customer.objects.filter(external_id__startswith="BC").exists():
        print(f"loading {args.customers:,} customers and about {args.events:,} cart events", flush=True)
        load_shop(args.customers, args.events)
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("customer", "product", "session", "cartevent", "order", "orderline"):
            cursor.execute(f"ANALYZE cartportal_{table}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database", default=None, help="default cartportal_bench, or cartportal_demo with --demo")
    parser.add_argument("--demo", action="store_true", help="the demo shop and its logins (first-load limit 1 s)")
    parser.add_argument("--skip", action="append", default=[], metavar="TAB", help="leave out a tab (by its label)")
    parser.add_argument("--first-load", nargs=2, metavar=("USERNAME", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--empty-cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load-only", action="store_true", help="load the shop (once) and stop, without timing")
    parser.add_argument(
        "--role", action="append", default=[], metavar="ROLE", help="time only this role's tabs (repeatable)"
    )
    args = parser.parse_args(argv)
    args.database = args.database or ("cartportal_demo" if args.demo else "cartportal_bench")
    _prepare_database(args.database, migrate=not args.first_load)
    if args.first_load:
        print(first_load(*args.first_load, empty_cache=args.empty_cache))
        return 0
    from cartportal.models import CartEvent, Customer

    if args.demo:
        _seed_demo()
        users, limit_ms, first_limit_ms = _demo_users(), DEMO_FIRST_LOAD_LIMIT_MS, DEMO_FIRST_LOAD_LIMIT_MS
    else:
        _load_bench_shop(args)
        users, limit_ms, first_limit_ms = _users(), LIMIT_MS, LIMIT_MS
    if args.role:
        users = {role: user for role, user in users.items() if role in args.role}
    if args.load_only:
        print(f"shop: {Customer.objects.count():,} customers, {CartEvent.objects.count():,} cart events", flush=True)
        return 0
    print(f"shop: {Customer.objects.count():,} customers, {CartEvent.objects.count():,} cart events", flush=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = time_tabs(args, users, limit_ms, first_limit_ms)
    load_after = [round(x, 2) for x in os.getloadavg()]
    print(f"load average after: {' '.join(map(str, load_after))}", flush=True)
    worst = max(results, key=lambda r: r["p95_ms"])
    worst_first = max(results, key=lambda r: r["first_after_restart_cache_emptied_ms"])
    print(
        json.dumps(
            {
                "shop": "demo" if args.demo else "bench",
                "customers": Customer.objects.count(),
                "cart_events": CartEvent.objects.count(),
                "limit_ms": limit_ms,
                "first_load_limit_ms": first_limit_ms,
                "worst": worst,
                "worst_first_load": worst_first,
                "all_under_limit": worst["p95_ms"] < limit_ms,
                "all_first_loads_under_limit": worst_first["first_after_restart_cache_emptied_ms"] < first_limit_ms,
                "load_average_after": load_after,
                "tabs": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
