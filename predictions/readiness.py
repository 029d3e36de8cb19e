"""Which models a region's data can train, what is missing, and what the portal uses meanwhile.

Each model kind offers one check: a function of a region id that counts what its trainer needs. Kinds trained
outside this app (uplift, promotions) add theirs with ``register_check`` from their AppConfig.ready(), so this
module never imports a higher layer. The trainers raise the same "needs ...; has ..." message when they refuse.

Most checks count a region's whole history (every cart, every order): on a large shop that takes many seconds, so
the Readiness tab keeps their answers as a rollup, made stale by new data (cartportal.pages.rollups). A check that
reads rows the data watermark does not follow (campaign outcomes, which change in place) registers as ``live`` and is
asked on every request; it must be cheap (read through an index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

# what the trainers need (they raise the same "needs ...; has ..." message when they refuse)
MIN_CUSTOMERS, MIN_HOLDOUT_DAYS = 50, 14  # value: customers with orders; days of the back-test's holdout
ABANDONMENT_CARTS, ABANDONMENT_EACH_CLASS = 200, 30  # the cart model's MIN_CARTS, MIN_CLASS


@dataclass(frozen=True)
class Readiness:
    kind: str
    model: str
    ready: bool
    needs: str
    has: str
    fallback: str

    @property
    def missing(self) -> str:
        return "" if self.ready else f"needs {self.needs}; has {self.has}"


CHECKS: dict[str, Callable[[int], Readiness]] = {}
LIVE: set[str] = set()  # kinds whose check is asked on every request (see the module's docstring)


def register_check(kind: str, check: Callable[[int], Readiness], *, live: bool = False) -> None:
    CHECKS[kind] = check
    if live:
        LIVE.add(kind)
    else:
        LIVE.discard(kind)


def _one(query: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def value_check(region_id: int) -> Readiness:
    customers, days = _one(
        "SELECT COUNT(DISTINCT customer_id), COALESCE(EXTRACT(DAY FROM MAX(placed_at) - MIN(placed_at)), 0) "
        "FROM cartportal_order WHERE region_id = %s AND customer_id IS NOT NULL "
        "AND status NOT IN ('cancelled', 'returned')",
        [region_id],
    )
    days, need_days = int(days), 2 * MIN_HOLDOUT_DAYS
    return Readiness(
        kind="value",
        model="12-month value forecast (BG/NBD or Pareto/NBD + Gamma-Gamma)",
        ready=customers >= MIN_CUSTOMERS and days >= need_days,
        needs=f"{MIN_CUSTOMERS} customers with orders over at least {need_days} days",
        has=f"{customers} customers over {days} days",
        fallback="RFM segments (recency, frequency, spend) from the orders there are",
    )


def abandonment_check(region_id: int) -> Readiness:
    carts, bought = _one(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE bought) FROM ("
        "  SELECT e.session_id, bool_or(e.kind = 'purchase') AS bought FROM cartportal_cartevent e"
        "  JOIN cartportal_session s ON s.id = e.session_id"
        "  WHERE e.region_id = %s AND NOT s.is_bot GROUP BY e.session_id HAVING bool_or(e.kind = 'add')"
        ") carts",
        [region_id],
    )
    abandoned = carts - bought
    return Readiness(
        kind="abandonment",
        model="cart abandonment risk (CatBoost, logistic baseline)",
        ready=carts >= ABANDONMENT_CARTS and min(bought, abandoned) >= ABANDONMENT_EACH_CLASS,
        needs=f"{ABANDONMENT_CARTS} finished carts with at least {ABANDONMENT_EACH_CLASS} purchases and "
        f"{ABANDONMENT_EACH_CLASS} abandonments",
        has=f"{carts} carts, {bought} bought",
        fallback="RFM segments and the BG/NBD purchase probability from the value forecast",
    )


register_check("value", value_check)
register_check("abandonment", abandonment_check)


def region_readiness(region_id: int, *, live: bool | None = None) -> list[Readiness]:
    """Every check's answer for a region (``live`` True/False: only the live ones, or only the others)."""
    return [check(region_id) for kind, check in CHECKS.items() if live is None or (kind in LIVE) == live]
