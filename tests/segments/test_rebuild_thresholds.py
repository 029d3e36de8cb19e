"""The rebuild on generated customers whose values sit exactly on the thresholds: the median spender is not high
value (strictly above), two orders is frequent, a purchase exactly 90 days back is not dormant (one second more
is), tied recencies share an RFM score; every customer is in exactly one segment of each kind."""

import datetime as dt
from decimal import Decimal

import pytest

from segments.models import CustomerProfile, ProfileSnapshot, Segment
from segments.rfm import RFM_SEGMENT_NAMES, rfm_name
from segments.services import segments_rebuild
from tests.factories import CustomerFactory, OrderFactory, RegionFactory, SessionFactory

REFERENCE = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


def _customer(region, name, orders=(), session=False):
    customer = CustomerFactory(region=region, external_id=name)
    for days_before, total in orders:
        OrderFactory(customer=customer, placed_at=REFERENCE - days_before, total=Decimal(total))
    if session:
        SessionFactory(customer=customer, region=region, started_at=REFERENCE - dt.timedelta(days=1))
    return customer


def _world():
    region = RegionFactory(code="EDGE")
    day = dt.timedelta(days=1)
    _customer(region, "two-orders-low", [(0 * day, "10"), (5 * day, "10")], session=True)
    _customer(region, "median-exactly-90-days", [(90 * day, "30")])
    _customer(region, "above-median-90-days-and-a-second", [(90 * day + dt.timedelta(seconds=1), "40")])
    _customer(region, "two-orders-high", [(10 * day, "25"), (20 * day, "25")])
    _customer(region, "one-low", [(30 * day, "10")])
    _customer(region, "browser-only", session=True)
    _customer(region, "nothing")
    return region


@pytest.mark.django_db
def test_values_on_the_thresholds_and_one_segment_per_kind():
    region = _world()
    result = segments_rebuild(actor="command:test", region_ids=[region.pk], personas=False)
    assert result.reference_at == REFERENCE and result.customers == 7
    rows = {
        p.customer.external_id: (p.value_group, p.dormant, p.r_score, p.f_score, p.rfm_segment, p.promotion_base)
        for p in CustomerProfile.objects.select_related("customer")
    }
    assert rows == {
        "two-orders-low": ("regular", False, 5, 4, "Champions", "both"),
        "median-exactly-90-days": ("one_time", False, 1, 1, "Hibernating", "transaction_only"),
        "above-median-90-days-and-a-second": ("big_fish", True, 1, 1, "Hibernating", "transaction_only"),
        "two-orders-high": ("loyal", False, 4, 4, "Loyal Customers", "transaction_only"),
        "one-low": ("one_time", False, 3, 1, "About to Sleep", "transaction_only"),
        "browser-only": ("", False, None, None, "", "browsing_only"),
        "nothing": ("", False, None, None, "", "none"),
    }
    sizes = {(s.kind, s.code): (s.size, s.dormant_size) for s in Segment.objects.filter(region=region)}
    assert {code: n for (kind, code), n in sizes.items() if kind == "value_group"} == {
        "loyal": (1, 0),
        "regular": (1, 0),
        "big_fish": (1, 1),
        "one_time": (2, 0),
    }
    # a partition: every purchasing customer in exactly one value group and one RFM segment, everyone in one base
    for kind, expected in [("value_group", 5), ("rfm", 5), ("promotion_base", 7)]:
        assert sum(n for (k, _), (n, _) in sizes.items() if k == kind) == expected
    month = ProfileSnapshot.objects.filter(region=region, month=dt.date(2026, 6, 1))
    assert month.exclude(value_group="").count() == 5 and month.exclude(rfm="").count() == 5

    again = segments_rebuild(actor="command:test", region_ids=[region.pk], personas=False)
    assert again.customers == 7 and CustomerProfile.objects.count() == 7
    assert Segment.objects.filter(region=region).count() == len(sizes)


def test_the_rfm_grid_names_every_score_pair_once():
    names = {(r, f): rfm_name(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert len(names) == 25 and set(names.values()) == set(RFM_SEGMENT_NAMES)
