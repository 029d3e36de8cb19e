"""What to propose for an open cart. Predictions knows the cart and its drivers but not the intervention catalogue,
which lives in a higher layer: that layer registers a proposer here in its AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable

Proposer = Callable[[dict], dict | None]
_proposers: list[Proposer] = []


def register(proposer: Proposer) -> None:
    """Add a proposer: given a cart ({"top_driver", "customer_id", "low_rated_items", ...}) it returns
    {"action", "name", "reason"} or None when it has nothing to say."""
    if proposer not in _proposers:
        _proposers.append(proposer)


def propose(cart: dict) -> dict | None:
    for proposer in _proposers:
        proposal = proposer(cart)
        if proposal is not None:
            return proposal
    return None
