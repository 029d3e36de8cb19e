"""A generated price and quantity history with known elasticities, written as real orders and order lines.

Per category, products with their own base price and popularity; every week each product is sold at its base
price or 10 / 20 / 30 % below it (chosen at random), with a shop-wide weekly demand shock shared by all products;
the week's quantity is Poisson with mean exp(popularity + shock) * (price / base) ** elasticity.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from cartportal.models import Customer, Order, OrderLine, Product

TRUE_ELASTICITY = {"mugs": -0.5, "candles": -1.5, "cards": -3.0}
DISCOUNTS = [0.0, 0.0, 0.1, 0.2, 0.3]


def write_price_history(
    region, *, products_per_category: int = 25, weeks: int = 30, seed: int = 11, elasticities=None, margin=None
):
    """Orders (one per week, a line per product) in `region`; returns the products created."""
    rng = np.random.default_rng(seed)
    elasticities = elasticities or TRUE_ELASTICITY
    customer = Customer.objects.create(external_id=f"price-history-{region.code}", region=region)
    start = dt.datetime(2025, 1, 6, 10, tzinfo=dt.UTC)
    shocks = rng.normal(0.0, 0.3, weeks)
    products = []
    for category in elasticities:
        for i in range(products_per_category):
            products.append(
                Product.objects.create(
                    sku=f"{region.code}-{category}-{i}",
                    name=f"{category} {i}",
                    category=category,
                    price=Decimal(str(round(float(rng.uniform(2, 20)), 2))),
                )
            )
    popularity = {p.pk: rng.normal(4.0, 0.5) for p in products}
    for week in range(weeks):
        order = Order.objects.create(
            external_id=f"{region.code}-week-{week}",
            customer=customer,
            region=region,
            placed_at=start + dt.timedelta(days=7 * week),
        )
        lines = []
        for n, product in enumerate(products):
            base = float(product.price)
            price = round(base * (1 - float(rng.choice(DISCOUNTS))), 2)
            mean = np.exp(popularity[product.pk] + shocks[week]) * (price / base) ** elasticities[product.category]
            quantity = int(rng.poisson(mean))
            if quantity > 0:
                lines.append(
                    OrderLine(
                        order=order,
                        region=region,
                        line_no=n + 1,
                        product=product,
                        sku=product.sku,
                        quantity=quantity,
                        unit_price=Decimal(str(price)),
                        amount=Decimal(str(round(price * quantity, 2))),
                    )
                )
        OrderLine.objects.bulk_create(lines)
    return products
