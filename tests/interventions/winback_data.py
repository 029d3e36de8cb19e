"""A small shop with two years of monthly buying habits, for the Win back page's scoping and form tests: each
customer buys in a month with their own probability, so some stay dormant and some of those come back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from cartportal.models import Customer, Order, OrderLine, Product

START = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)


def seed_shop(
    region, prefix: str, *, customers: int = 400, months: int = 24, seed: int = 0, lines: bool = False
) -> list[str]:
    """Customers ``{prefix}-0000``...; with ``lines``, every order gets one to three lines of a dozen products."""
    rng = np.random.default_rng(seed)
    rows = Customer.objects.bulk_create(
        Customer(external_id=f"{prefix}-{i:04d}", region=region) for i in range(customers)
    )
    habit = rng.uniform(0.03, 0.45, customers)
    orders = []
    for month in range(months):
        day = START + dt.timedelta(days=30.4 * month)
        for i in np.flatnonzero(rng.random(customers) < habit):
            orders.append(
                Order(
                    external_id=f"{prefix}-o{month}-{i}",
                    customer=rows[i],
                    region=region,
                    placed_at=day + dt.timedelta(days=int(rng.integers(0, 28))),
                    total=Decimal(str(round(float(rng.lognormal(3 + habit[i], 0.5)), 2))),
                )
            )
    Order.objects.bulk_create(orders)
    if lines:
        _add_lines(region, prefix, orders, rng)
    return [c.external_id for c in rows]


def _add_lines(region, prefix: str, orders: list[Order], rng) -> None:
    products = Product.objects.bulk_create(
        Product(sku=f"{prefix}-p{i}", category=f"category {i % 4}", price=Decimal(5 + i)) for i in range(12)
    )
    rows = []
    for order in orders:
        for n in range(int(rng.integers(1, 4))):
            product = products[int(rng.integers(0, len(products)))]
            quantity = int(rng.integers(1, 6))
            rows.append(
                OrderLine(
                    order=order,
                    region=region,
                    line_no=n + 1,
                    product=product,
                    sku=product.sku,
                    quantity=quantity,
                    unit_price=product.price,
                    amount=product.price * quantity,
                )
            )
    OrderLine.objects.bulk_create(rows, batch_size=5000)
