"""A cart-event export of 10,000 rows with known faults mixed in, and the answer key.

`build(world)` creates the products, customers and sessions the file refers to and returns a CorruptFile:
the bytes, the expected quarantine {line: (code, column)}, the expected duplicate lines, and the good lines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cartportal.models import Customer, Product, Session

HEADER = ["session_id", "customer_id", "sku", "event", "price", "quantity", "timestamp", "region"]
FAULTS = [
    "bad_encoding",
    "extra_column",
    "missing_column",
    "bad_date",
    "bad_number",
    "negative_price",
    "negative_quantity",
    "fractional_quantity",
    "unknown_product",
    "unknown_session",
    "duplicate_in_file",
    "duplicate_in_database",
    "future_date",
    "missing_timestamp",
    "bad_event",
    "unclosed_quote",
    "stray_quote",
    "unknown_region",
    "foreign_region",
    "price_with_letters",
]


@dataclass
class CorruptFile:
    data: bytes
    quarantine: dict[int, tuple[str, str]] = field(default_factory=dict)
    duplicates: set[int] = field(default_factory=set)
    good: set[int] = field(default_factory=set)
    preload: bytes = b""
    rows: int = 0


def build(world, rows: int = 10_000, seed: int = 7) -> CorruptFile:
    rnd = random.Random(seed)
    region = world.region_a
    products = [Product.objects.create(sku=f"P-{i:03d}", name=f"Product {i}", price=5 + i) for i in range(40)]
    products.append(Product.objects.create(sku="CRÈME-01", name="Crème brûlée set", price=12))
    customers = [Customer.objects.create(external_id=f"CU-{i:04d}", region=region) for i in range(150)]
    sessions = [Session.objects.create(external_id=f"SE-{i:05d}", region=region) for i in range(400)]

    def good_row(i: int) -> list[str]:
        product = rnd.choice(products)
        return [
            rnd.choice(sessions).external_id,
            rnd.choice(customers).external_id,
            product.sku,
            rnd.choice(["add", "add", "remove", "checkout", "purchase"]),
            f"{product.price + rnd.random():.2f}",
            str(rnd.randint(1, 4)),
            f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} "
            f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{i % 60:02d}",
            region.code,
        ]

    out = CorruptFile(b"")
    lines: list[bytes] = [",".join(HEADER).encode()]
    preloaded = good_row(10**6)
    out.preload = (",".join(HEADER) + "\n" + ",".join(preloaded) + "\n").encode()
    fault_lines = {}
    positions = rnd.sample(range(50, rows), len(FAULTS) * 12)
    for n, position in enumerate(positions):
        fault_lines[position] = FAULTS[n % len(FAULTS)]
    earlier: list[list[str]] = []
    for i in range(rows):
        line_no = len(lines) + 1
        row = good_row(i)
        fault = fault_lines.get(i)
        text = None
        if fault is None:
            earlier.append(row)
            out.good.add(line_no)
        elif fault == "bad_encoding":
            text = ",".join(row).encode().replace(row[2].encode(), row[2].encode() + b"\xff\xfe")
            out.quarantine[line_no] = ("bad_encoding", "sku")
        elif fault == "extra_column":
            row.append("surplus")
            out.quarantine[line_no] = ("column_count", "")
        elif fault == "missing_column":
            row.pop()
            out.quarantine[line_no] = ("column_count", "")
        elif fault == "bad_date":
            row[6] = "2025-13-45 99:00:00"
            out.quarantine[line_no] = ("bad_date", "timestamp")
        elif fault == "bad_number":
            row[4] = "twelve"
            out.quarantine[line_no] = ("not_a_number", "price")
        elif fault == "price_with_letters":
            row[4] = "12.3.4"
            out.quarantine[line_no] = ("not_a_number", "price")
        elif fault == "negative_price":
            row[4] = "-4.50"
            out.quarantine[line_no] = ("negative_value", "price")
        elif fault == "negative_quantity":
            row[5] = "-2"
            out.quarantine[line_no] = ("out_of_range", "quantity")
        elif fault == "fractional_quantity":
            row[5] = "1.5"
            out.quarantine[line_no] = ("not_a_number", "quantity")
        elif fault == "unknown_product":
            row[2] = f"NOPE-{i}"
            out.quarantine[line_no] = ("unknown_reference", "sku")
        elif fault == "unknown_session":
            row[0] = f"GHOST-{i}"
            out.quarantine[line_no] = ("unknown_reference", "session_id")
        elif fault == "duplicate_in_file" and earlier:
            row = list(rnd.choice(earlier))
            out.duplicates.add(line_no)
        elif fault == "duplicate_in_database":
            row = list(preloaded)
            out.duplicates.add(line_no)
        elif fault == "future_date":
            row[6] = "2099-01-01 10:00:00"
            out.quarantine[line_no] = ("future_date", "timestamp")
        elif fault == "missing_timestamp":
            row[6] = ""
            out.quarantine[line_no] = ("missing_required", "timestamp")
        elif fault == "bad_event":
            row[3] = "wishlist"
            out.quarantine[line_no] = ("bad_choice", "event")
        elif fault == "unclosed_quote":
            text = (",".join(row[:2]) + ',"' + ",".join(row[2:])).encode()
            out.quarantine[line_no] = ("unbalanced_quote", "")
        elif fault == "stray_quote":
            text = (",".join(row[:2]) + ',"' + row[2] + '"x,' + ",".join(row[3:])).encode()
            out.quarantine[line_no] = ("malformed_csv", "")
        elif fault == "unknown_region":
            row[7] = "ATLANTIS"
            out.quarantine[line_no] = ("unknown_region", "region")
        elif fault == "foreign_region":
            row[7] = world.region_b.code
            out.quarantine[line_no] = ("region_forbidden", "region")
        else:
            earlier.append(row)
            out.good.add(line_no)
        lines.append(text if text is not None else ",".join(row).encode())
        if i in (1000, 5000):
            lines.append(b"")  # blank lines are not rows
    out.rows = rows
    out.data = b"\n".join(lines) + b"\n"
    return out
