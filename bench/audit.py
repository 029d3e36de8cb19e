"""Cost of the database-assigned audit chain: appends per second and verification speed, against a reference.

    .venv/bin/python bench/audit.py [--rows 20000] [--database cartportal_bench_audit] [--keep-db]

In a scratch database created and migrated for the run (dropped afterwards unless --keep-db):

- chain: `cartportal.audit.record()` appends --rows rows one by one, each in its own transaction, so the trigger
  (advisory lock, head lookup, HMAC) runs for every row, as it does in production;
- reference: the same INSERT into a table of the same shape (same columns and indexes) without the trigger;
- verify: `verify_chain()` over the whole chain (walked and re-hashed inside the database), then with 200 anchors.

Prints the rates and `chain_vs_reference` (chain appends per second / reference inserts per second; 1.0 means the
trigger costs nothing). The last line is one JSON object. Ratios compare like with like within one run on one
machine; absolute rates depend on the host.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REFERENCE_INSERT = """
INSERT INTO bench_audit_reference (id, occurred_at, prev_hash, hash, actor, action, object_type, object_id,
                                   region_code, before, after, reason, request_id)
VALUES (%s, now(), '', %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)
"""


def setup_django(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartportal.settings")
    os.environ.setdefault("CARTPORTAL_DB_AS_OWNER", "1")  # the scratch database is created and migrated here
    os.environ.setdefault("CARTPORTAL_AUDIT_ANCHOR_FILE", "")
    from cartportal.devservices import ensure_env

    ensure_env()
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = database


def measure(rows: int) -> dict:
    from django.db import connection, transaction
    from django.test import override_settings

    from cartportal.audit import record, verify_chain
    from cartportal.audit.anchors import publish_anchor

    after = {"state": "approved", "n": 1}
    started = time.perf_counter()
    for i in range(rows):
        record(actor="command:bench", action="bench.event", object_type="thing", object_id=i, after=after)
    chain_seconds = time.perf_counter() - started

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_audit_reference (LIKE cartportal_auditevent INCLUDING ALL)")
    started = time.perf_counter()
    for i in range(rows):
        with transaction.atomic(), connection.cursor() as cursor:
            values = [i + 1, f"{i:064d}", "command:bench", "bench.event", "thing", str(i), "", None]
            cursor.execute(REFERENCE_INSERT, [*values, json.dumps(after), "", ""])
    reference_seconds = time.perf_counter() - started

    started = time.perf_counter()
    report = verify_chain()
    verify_seconds = time.perf_counter() - started
    assert report.ok and report.rows == rows, report

    with tempfile.TemporaryDirectory() as folder, override_settings(CARTPORTAL_AUDIT_ANCHOR_FILE=f"{folder}/a.jsonl"):
        for i in range(200):
            record(actor="command:bench", action="bench.anchor", object_id=i)
            publish_anchor()
        started = time.perf_counter()
        anchored = verify_chain()
        anchored_seconds = time.perf_counter() - started
    assert anchored.ok and anchored.anchors == 200, anchored
    return {
        "rows": rows,
        "chain_appends_per_s": round(rows / chain_seconds),
        "reference_inserts_per_s": round(rows / reference_seconds),
        "chain_vs_reference": round(reference_seconds / chain_seconds, 3),
        "verify_rows_per_s": round(rows / verify_seconds),
        "verify_seconds": round(verify_seconds, 3),
        "verify_with_200_anchors_seconds": round(anchored_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--database", default="cartportal_bench_audit")
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch database for inspection")
    args = parser.parse_args()
    setup_django(args.database)
    from django.test.utils import setup_databases, teardown_databases

    old_config = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        result = measure(args.rows)
    finally:
        if not args.keep_db:
            teardown_databases(old_config, verbosity=0)
    print(f"chain appends     {result['chain_appends_per_s']:>8,}/s (trigger: lock, head, HMAC)")
    print(f"reference inserts {result['reference_inserts_per_s']:>8,}/s (same table shape, no trigger)")
    print(f"chain / reference {result['chain_vs_reference']:>8.3f}")
    print(
        f"verify            {result['verify_rows_per_s']:>8,} rows/s ({result['verify_seconds']} s for {args.rows:,})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
