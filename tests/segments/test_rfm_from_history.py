"""RFM read from the per-customer order aggregates equals RFM aggregated from the orders: at the latest order (every
customer read from the aggregates), at an earlier moment (a snapshot month: customers with later orders read from
their orders) and across regions, cancellations with negative totals and returns."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from segments import rfm
from segments.services.rebuild import _params, _scope_cte, reference_moment
from segments.value_groups import Thresholds
from tests.factories import CustomerFactory, OrderFactory, RegionFactory


def _scored(*, from_history: bool, as_of) -> list[tuple]:
    query = (
        f"WITH {_scope_cte()}, {rfm.buyers_sql(from_history=from_history)} "
        "SELECT customer_id, region_id, last_purchase, frequency, monetary, recency_days, r_score, f_score, m_score "
        "FROM scored ORDER BY customer_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, _params(None, as_of, Thresholds.from_settings()))
        return cursor.fetchall()


@pytest.mark.django_db
def test_rfm_from_the_aggregates_equals_rfm_from_the_orders():
    regions = [RegionFactory(), RegionFactory()]
    now = timezone.now()
    for n in range(40):
        customer = CustomerFactory(region=regions[n % 2])
        for k in range(n % 5):
            placed = now - dt.timedelta(days=3 + 37 * k + n)
            OrderFactory(customer=customer, region=customer.region, placed_at=placed, total=Decimal(10 + n + k))
        if n % 3 == 0:  # a cancellation document with a negative total, and a returned order
            OrderFactory(
                customer=customer,
                region=customer.region,
                placed_at=now - dt.timedelta(days=n),
                total=-7,
                status="cancelled",
            )
            OrderFactory(
                customer=customer, region=customer.region, placed_at=now - dt.timedelta(days=2), status="returned"
            )
        if n % 7 == 0:  # an order booked in the other region
            OrderFactory(customer=customer, region=regions[(n + 1) % 2], placed_at=now - dt.timedelta(days=9))

    latest = reference_moment()
    expected = _scored(from_history=False, as_of=latest)
    assert len(expected) >= 25
    assert _scored(from_history=True, as_of=latest) == expected
    earlier = now - dt.timedelta(days=60)
    expected_earlier = _scored(from_history=False, as_of=earlier)
    assert expected_earlier != expected and len(expected_earlier) > 10
    assert _scored(from_history=True, as_of=earlier) == expected_earlier
