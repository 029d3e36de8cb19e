"""What to propose for an open cart. Predictions knows the cart and its drivers but not the intervention catalogue,
which lives in a higher layer: that layer fills the platform's ``cart_action`` provider in its AppConfig.ready()."""

from __future__ import annotations

from cartportal import extensions


def propose(cart: dict) -> dict | None:
    """{"action", "name", "reason"} for a cart ({"top_driver", "customer_id", "low_rated_items"}), or None when no
    app proposes interventions."""
    return extensions.cart_action(cart)
