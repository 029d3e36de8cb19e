"""Friction drivers of one cart in plain words: SHAP values grouped per driver, each said with the concrete cause
found in that cart (the item whose price rose and by how much, the shipping share, the poorly rated items, ...).
No sentence restates an outcome: every fact is one the shop knew at the prediction point."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from predictions.abandonment.cart.features import DRIVER_LABELS, RISEN

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _count(n: float, word: str) -> str:
    n = int(n)
    return f"{NUMBERS.get(n, n)} {word}{'' if n == 1 else 's'}"


def price(row) -> str:
    if row["risen_items"] >= 1 and _known(row.get("risen_product")):
        others = int(row["risen_items"]) - 1
        more = f" (and {_count(others, 'other item')} dearer too)" if others else ""
        return f"the {row['risen_product']} is {row['max_price_rise']:.0%} dearer than its recent price{more}"
    return f"no item is dearer than its recent price (cart worth {row['cart_value']:.2f})"


def shipping(row) -> str:
    late = (
        f"; {_count(row['late_deliveries'], 'earlier delivery')} to this customer came late"
        if row["late_deliveries"]
        else ""
    )
    if not _known(row["shipping_cost"]):
        return "no shipping cost quoted yet" + late
    if row["shipping_cost"] <= 0:
        return "shipping is free" + late
    share = row["shipping_share"]
    part = f"{share:.0%} of the cart" if _known(share) else "charged on an empty cart"
    return f"shipping is {part} ({row['shipping_cost']:.2f})" + late


def reviews(row) -> str:
    if row["low_rated_items"] >= 2:
        return (
            f"{NUMBERS.get(int(row['low_rated_items']), int(row['low_rated_items']))} of the items average "
            f"{row['low_rated_mean']:.1f} stars"
        )
    if row["low_rated_items"] == 1 and _known(row.get("low_rated_product")):
        return f"the {row['low_rated_product']} averages {row['low_rated_mean']:.1f} stars"
    if not row["cart_reviews"]:
        return "none of the items has a review yet"
    text = f"the items average {row['cart_rating']:.1f} stars over {_count(row['cart_reviews'], 'review')}"
    if row.get("negative_review_share") and _known(row.get("complaint")):
        text += f", {row['negative_review_share']:.0%} negative, mostly about {row['complaint']}"
    return text


def engagement(row) -> str:
    minutes = row["minutes_in_session"]
    took = f" in {minutes:.0f} minutes" if _known(minutes) else ""
    removed = f" and {_count(row['removes'], 'removal')}" if row["removes"] else ""
    return f"{_count(row['items'], 'item')} in the cart after {_count(row['adds'], 'add')}{removed}{took}"


def customer(row) -> str:
    abandoned = row["earlier_abandoned_carts"]
    left = f"; {_count(abandoned, 'earlier cart')} left without buying" if abandoned else ""
    if not row["prior_orders"]:
        return "a first-time buyer (no earlier orders)" + left
    returns = f", {_count(row['returns'], 'return or cancellation')}" if row["returns"] else ""
    return (
        f"a returning customer: {_count(row['prior_orders'], 'earlier order')}, the last "
        f"{row['days_since_order']:.0f} days ago{returns}{left}"
    )


def context(row) -> str:
    device = f"on {row['device']} " if row["device"] else ""
    source = f" via {row['traffic_source']}" if row["traffic_source"] else ""
    hour = int(row["hour"]) if _known(row["hour"]) else 0
    return f"{device}at {hour:02d}:00 on a {WEEKDAYS[int(row['weekday']) % 7]}{source}"


CAUSES = {
    "price": price,
    "shipping": shipping,
    "reviews": reviews,
    "engagement": engagement,
    "customer": customer,
    "context": context,
}


def drivers(probability: np.ndarray, log_odds: pd.DataFrame, frame: pd.DataFrame) -> list[list[dict]]:
    """Per cart: every driver with its effect in probability points, its log-odds and its sentence."""
    out = []
    for i, (index, row) in enumerate(frame.iterrows()):
        p = float(np.clip(probability[i], 1e-6, 1 - 1e-6))
        total = math.log(p / (1 - p))
        cart = []
        for driver, push in log_odds.loc[index].items():
            points = p - _sigmoid(total - float(push))
            direction = "raises" if points >= 0 else "lowers"
            cause = CAUSES[driver](row)
            cart.append(
                {
                    "driver": driver,
                    "label": DRIVER_LABELS[driver],
                    "effect": round(points, 4),
                    "log_odds": round(float(push), 4),
                    "cause": cause,
                    "sentence": f"{DRIVER_LABELS[driver]}: {cause[0].upper()}{cause[1:]} — {direction} the risk "
                    f"by {abs(points) * 100:.1f} points.",
                }
            )
        cart.sort(key=lambda d: -abs(d["effect"]))
        out.append(cart)
    return out


def top_reasons(cart: list[dict], n: int = 2) -> list[str]:
    """The n drivers that push the risk up the most (else the strongest ones), as sentences."""
    raising = [d for d in cart if d["effect"] > 0]
    chosen = sorted(raising, key=lambda d: -d["effect"])[:n] or cart[:n]
    return [d["sentence"] for d in chosen]


def top_driver(cart: list[dict]) -> str:
    raising = [d for d in cart if d["effect"] > 0]
    return max(raising, key=lambda d: d["effect"])["driver"] if raising else ""


__all__ = ["drivers", "top_reasons", "top_driver", "RISEN"]
