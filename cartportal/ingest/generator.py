"""A seeded generator of a small shop, for the demo when no real data folder is given.

Distributions (documented so the demo's charts can be read): 3 regions; 1,500 customers with a
log-normal spend level and a Poisson number of orders over 18 months (mean 2.5, heavier for a loyal
fifth); 120 products in 8 categories with log-normal prices (median 18); sessions with page counts and
durations by type, about 16 % converting, higher with more product pages and a page value; cart events
(add, remove, checkout, purchase) for sessions that reach the cart; reviews with ratings skewed to 4-5
and short texts mentioning shipping, packaging, quality, price or service.
Everything goes through the same import pipeline as a shop's own files.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

REGIONS = [("UK", "United Kingdom", "GBP"), ("DE", "Germany", "EUR"), ("FR", "France", "EUR")]
CATEGORIES = ["home", "kitchen", "garden", "toys", "beauty", "fashion", "electronics", "books"]
REVIEW_TEXTS = {
    5: ["Great quality, arrived quickly.", "Excellent value for the price.", "Lovely product, well packaged."],
    4: ["Good quality, delivery took a few days.", "Nice, as described.", "Works well, fair price."],
    3: ["Okay, packaging was damaged.", "Average quality for the price.", "Shipping was slow but fine."],
    2: ["Poor quality, broke after a week.", "Too expensive for what it is.", "Late delivery, no tracking."],
    1: ["Never arrived, customer service did not answer.", "Broken on arrival, terrible packaging.", "Waste of money."],
}


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def generate(seed: int = 42, customers: int = 1500, now: datetime | None = None) -> dict[str, bytes]:
    rnd = random.Random(seed)
    now = now or datetime(2026, 10, 31, 18, 0)
    start = now - timedelta(days=540)
    products = [
        [
            f"SKU-{i:04d}",
            f"{rnd.choice(CATEGORIES).title()} item {i}",
            rnd.choice(CATEGORIES),
            f"{rnd.lognormvariate(2.9, 0.6):.2f}",
            "yes" if rnd.random() < 0.15 else "no",
        ]
        for i in range(120)
    ]
    customer_rows, lines, sessions, events, reviews = [], [], [], [], []
    sources = ["search", "social", "email", "affiliate", "direct"]
    for c in range(customers):
        code = rnd.choice(REGIONS)[0]
        first = start + timedelta(days=rnd.uniform(0, 500))
        source = rnd.choice(sources)
        customer_rows.append(
            [
                f"CUST-{c:05d}",
                code,
                first.isoformat(sep=" ", timespec="seconds"),
                source,
                f"{rnd.uniform(5, 60):.2f}",
                rnd.choice(["mobile", "desktop", "tablet"]),
                rnd.choice(["18-24", "25-34", "35-44", "45-54", "55+", ""]),
                rnd.choice(["female", "male", ""]),
                "yes",
                "yes" if rnd.random() < 0.9 else "no",
            ]
        )
        loyal = rnd.random() < 0.2
        n_orders = min(40, _poisson(rnd, 6 if loyal else 1.6))
        level = rnd.lognormvariate(0, 0.5)
        for o in range(n_orders):
            placed = first + timedelta(days=rnd.uniform(0, max(1.0, (now - first).days)))
            invoice = f"INV-{c:05d}-{o:02d}"
            for _ in range(rnd.randint(1, 4)):
                product = rnd.choice(products)
                quantity = rnd.randint(1, 3)
                lines.append(
                    [
                        invoice,
                        f"CUST-{c:05d}",
                        placed.isoformat(sep=" ", timespec="seconds"),
                        product[0],
                        quantity,
                        f"{float(product[3]) * level:.2f}",
                        code,
                    ]
                )
            if rnd.random() < 0.3:
                rating = rnd.choices([1, 2, 3, 4, 5], weights=[5, 7, 12, 30, 46])[0]
                reviews.append(
                    [
                        f"REV-{c}-{o}",
                        product[0],
                        f"CUST-{c:05d}",
                        rating,
                        rnd.choice(REVIEW_TEXTS[rating]),
                        (placed + timedelta(days=9)).isoformat(sep=" "),
                    ]
                )
        for s in range(rnd.randint(1, 6)):
            when = first + timedelta(days=rnd.uniform(0, max(1.0, (now - first).days)))
            product_pages = max(1, int(rnd.lognormvariate(2.5, 0.9)))
            page_value = rnd.choice([0, 0, 0, rnd.uniform(5, 60)])
            p_buy = min(0.9, 0.04 + 0.01 * min(product_pages, 30) + (0.35 if page_value else 0))
            converted = rnd.random() < p_buy
            session_id = f"SES-{c:05d}-{s}"
            sessions.append(
                [
                    session_id,
                    f"CUST-{c:05d}",
                    code,
                    when.isoformat(sep=" ", timespec="seconds"),
                    rnd.randint(0, 4),
                    f"{rnd.uniform(0, 120):.1f}",
                    rnd.randint(0, 2),
                    f"{rnd.uniform(0, 60):.1f}",
                    product_pages,
                    f"{product_pages * rnd.uniform(10, 60):.1f}",
                    f"{rnd.uniform(0, 0.1):.4f}",
                    f"{rnd.uniform(0.005, 0.2):.4f}",
                    f"{page_value:.2f}",
                    rnd.choice(["mobile", "desktop", "tablet"]),
                    rnd.choice(sources),
                    rnd.choice(["Returning_Visitor", "New_Visitor"]),
                    "TRUE" if converted else "FALSE",
                ]
            )
            if converted or rnd.random() < 0.45:
                product = rnd.choice(products)
                t = when + timedelta(minutes=rnd.uniform(1, 20))
                kinds = ["add"] + (
                    ["checkout", "purchase"] if converted else rnd.choice([[], ["remove"], ["checkout"]])
                )
                for k, kind in enumerate(kinds):
                    events.append(
                        [
                            session_id,
                            f"CUST-{c:05d}",
                            product[0],
                            kind,
                            product[3],
                            1,
                            (t + timedelta(minutes=3 * k)).isoformat(sep=" ", timespec="seconds"),
                        ]
                    )
    return {
        "customers": _csv(
            [
                "customer_id",
                "region",
                "first_seen",
                "acquisition_source",
                "acquisition_cost",
                "device",
                "age_band",
                "gender",
                "consent_personalisation",
                "consent_marketing",
            ],
            customer_rows,
        ),
        "products": _csv(["sku", "name", "category", "price", "house_brand"], products),
        "transactions": _csv(["invoice", "customer_id", "date", "sku", "quantity", "unit_price", "region"], lines),
        "sessions": _csv(
            [
                "session_id",
                "customer_id",
                "region",
                "started_at",
                "administrative",
                "administrative_duration",
                "informational",
                "informational_duration",
                "product_pages",
                "product_duration",
                "bounce_rate",
                "exit_rate",
                "page_value",
                "device",
                "traffic_source",
                "visitor_type",
                "converted",
            ],
            sessions,
        ),
        "cart_events": _csv(["session_id", "customer_id", "sku", "event", "price", "quantity", "timestamp"], events),
        "reviews": _csv(["review_id", "sku", "customer_id", "rating", "text", "created_at"], reviews),
    }


def _poisson(rnd: random.Random, mean: float) -> int:
    import math

    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1
