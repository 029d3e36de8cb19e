"""A seeded generator of a small shop, for the demo when no real data folder is given.

Distributions (documented so the demo's charts can be read): 3 regions; 1,500 customers with a
log-normal spend level and a Poisson number of orders over 18 months (mean 2.5, heavier for a loyal
fifth); 120 products in 8 categories with log-normal prices (median 18); sessions with page counts and
durations by type; about half the sessions open a cart of one to four items (add, sometimes a remove, a
shipping line with the quoted shipping cost, then checkout and purchase when it is bought); reviews with
ratings skewed to 4-5 (a fifth of the products are poorly made and rated 1-3) and short texts mentioning
shipping, packaging, quality, price or service.

Cart abandonment has a causal structure the model can find (``drivers``): each product's price is raised
by 10-45 % in about a third of the weeks, and a cart holding an item raised by more than 15 % is abandoned
more often (above 25 % much more often; a returning customer ignores the smaller rises); so is a cart whose
shipping cost is more than 15 % (much more above 30 %) of its value, one holding a poorly reviewed item, and
(less often) a new customer's cart than a returning customer's. ``drivers`` picks which of these act ("all", or one of
"price", "shipping", "reviews", "returning"), and "none" makes every cart's outcome an independent coin flip
(used to check that the abandonment model finds nothing where there is nothing). A bought cart becomes an
order a few minutes later. Everything goes through the same import pipeline as a shop's own files.
"""

from __future__ import annotations

import csv
import io
import math
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


SHIPPING_SKU = "SHIPPING"  # the shipping line of a cart, as many shops export it (see ABANDONMENT_SHIPPING_SKUS)
SHIPPING_COSTS = [0.0, 0.0, 3.99, 5.99, 8.99, 14.99]
DRIVERS = ("all", "price", "shipping", "reviews", "returning", "none")


def generate(
    seed: int = 42, customers: int = 1500, now: datetime | None = None, drivers: str = "all"
) -> dict[str, bytes]:
    if drivers not in DRIVERS:
        raise ValueError(f"drivers must be one of {', '.join(DRIVERS)}")
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
    poorly_made = {p[0] for p in products if rnd.random() < 0.2}
    weeks = int((now - start).days / 7) + 2
    raised = {p[0]: {w: rnd.uniform(0.10, 0.45) for w in range(weeks) if rnd.random() < 0.33} for p in products}
    shop = _Shop(rnd, start, poorly_made, raised, drivers)
    catalogue = [*products, [SHIPPING_SKU, "Shipping", "shipping", "0.00", "no"]]
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
        order_times = []
        for o in range(n_orders):
            placed = first + timedelta(days=rnd.uniform(0, max(1.0, (now - first).days)))
            order_times.append(placed)
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
                weights = [25, 35, 30, 7, 3] if product[0] in poorly_made else [2, 3, 10, 35, 50]
                rating = rnd.choices([1, 2, 3, 4, 5], weights=weights)[0]
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
            session_id = f"SES-{c:05d}-{s}"
            cart = None
            if rnd.random() < 0.5:
                returning = sum(t < when for t in order_times) > 0
                cart = shop.cart(products, when, returning)
                events.extend([session_id, f"CUST-{c:05d}", *row] for row in cart.events)
                if cart.bought:
                    invoice = f"INV-{c:05d}-S{s}"
                    order_times.append(cart.bought_at)
                    for sku, quantity, price in cart.lines:
                        lines.append([invoice, f"CUST-{c:05d}", _iso(cart.bought_at), sku, quantity, price, code])
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
                    "TRUE" if cart is not None and cart.bought else "FALSE",
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
        "products": _csv(["sku", "name", "category", "price", "house_brand"], catalogue),
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


def _iso(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


class _Cart:
    def __init__(self) -> None:
        self.events: list[list] = []  # sku, kind, price, quantity, time
        self.lines: list[tuple[str, int, str]] = []
        self.bought = False
        self.bought_at: datetime | None = None


class _Shop:
    """Carts and their outcomes; the outcome depends only on what the cart looked like when it was last changed."""

    def __init__(self, rnd: random.Random, start: datetime, poorly_made: set, raised: dict, drivers: str) -> None:
        self.rnd, self.start, self.poorly_made, self.raised, self.drivers = rnd, start, poorly_made, raised, drivers

    def price(self, product: list, moment: datetime) -> float:
        week = int((moment - self.start).days // 7)
        return round(float(product[3]) * (1 + self.raised[product[0]].get(week, 0.0)), 2)

    def cart(self, products: list, when: datetime, returning: bool) -> _Cart:
        rnd, cart = self.rnd, _Cart()
        t = when + timedelta(minutes=rnd.uniform(1, 20))
        items = rnd.sample(products, rnd.choice([1, 1, 2, 2, 3, 4]))
        value, max_rise = 0.0, 0.0
        for product in items:
            price, quantity = self.price(product, t), rnd.choice([1, 1, 1, 2])
            cart.events.append([product[0], "add", f"{price:.2f}", quantity, _iso(t)])
            cart.lines.append((product[0], quantity, f"{price:.2f}"))
            value += price * quantity
            max_rise = max(max_rise, price / float(product[3]) - 1)
            t += timedelta(minutes=rnd.uniform(0.5, 6))
        shipping = rnd.choice(SHIPPING_COSTS)
        cart.events.append([SHIPPING_SKU, "add", f"{shipping:.2f}", 1, _iso(t)])
        last_change = t
        poorly = any(p[0] in self.poorly_made for p in items)
        cart.bought = rnd.random() >= self.abandon_probability(max_rise, shipping / value, poorly, returning)
        after = last_change + timedelta(minutes=rnd.uniform(1, 30))
        if cart.bought:
            cart.bought_at = after + timedelta(minutes=rnd.uniform(1, 10))
            cart.events.append([SHIPPING_SKU, "checkout", "", 1, _iso(after)])
            cart.events.append([SHIPPING_SKU, "purchase", "", 1, _iso(cart.bought_at)])
        elif rnd.random() < 0.3:
            cart.events.append([SHIPPING_SKU, "checkout", "", 1, _iso(after)])
        return cart

    def abandon_probability(self, max_rise: float, shipping_share: float, poorly: bool, returning: bool) -> float:
        acts = {d: self.drivers in ("all", d) for d in ("price", "shipping", "reviews", "returning")}
        if self.drivers == "none":
            return 0.5
        # thresholds, as shoppers notice them: a rise above about 15 %, shipping above about a sixth of the cart; a
        # returning customer shrugs off a small rise
        logit = -0.9
        if acts["price"]:
            logit += 3.2 if max_rise > 0.25 else 2.0 if max_rise > 0.15 and not returning else 0.0
        if acts["shipping"]:
            logit += 3.2 if shipping_share > 0.3 else 2.0 if shipping_share > 0.15 else 0.0
        logit += 1.5 * poorly if acts["reviews"] else 0.0
        logit += -1.2 * returning if acts["returning"] else 0.0
        return 1 / (1 + math.exp(-logit))


def _poisson(rnd: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1
