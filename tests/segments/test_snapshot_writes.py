"""The month's snapshot is written as a difference: a second rebuild in the same month updates the rows whose state
changed, inserts the new customers' rows and deletes the rows of customers who left the scope, leaves every other
row as it was (the same row version), and afterwards the snapshot equals the profiles exactly. A customer who moved
region keeps one row for the month."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from cartportal.access import SystemActor
from cartportal.models import Customer, Order
from segments import snapshots
from segments.models import CustomerProfile, ProfileSnapshot
from segments.services import segments_rebuild
from tests.interventions.winback_data import seed_shop

FIRST = dt.datetime(2024, 9, 10, 12, tzinfo=dt.UTC)
SECOND = dt.datetime(2024, 9, 24, 12, tzinfo=dt.UTC)
MONTH = dt.date(2024, 9, 1)


def _expected(region_ids) -> dict[int, tuple]:
    """Each customer's (region, value group state, RFM segment, persona) read from the profiles, not the snapshot."""
    expected = {}
    rows = CustomerProfile.objects.filter(region_id__in=region_ids).values_list(
        "customer_id", "region_id", "value_group", "dormant", "rfm_segment", "persona"
    )
    for customer, region, group, dormant, rfm, persona in rows:
        state = snapshots.LABELS[group] + (" (dormant)" if dormant else "") if group else ""
        if state or rfm or persona:
            expected[customer] = (region, state, rfm, persona)
    return expected


def _snapshot(region_ids) -> dict[int, tuple]:
    rows = ProfileSnapshot.objects.filter(month=MONTH, region_id__in=region_ids)
    return {
        c: (r, v, f, p)
        for c, r, v, f, p in rows.values_list("customer_id", "region_id", "value_group", "rfm", "persona")
    }


def _versions() -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT customer_id, xmin::text FROM segments_profilesnapshot WHERE month = %s", [MONTH])
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_a_second_rebuild_in_the_month_writes_only_the_changes_and_matches_the_profiles(world):
    a, b = world.region_a, world.region_b
    seed_shop(a, "sa", customers=150, months=12, seed=3, lines=True)
    seed_shop(b, "sb", customers=40, months=12, seed=4, lines=True)
    actor = SystemActor("task:test", [a.pk, b.pk])
    segments_rebuild(actor=actor, as_of=FIRST, bootstraps=2)
    assert _snapshot([a.pk, b.pk]) == _expected([a.pk, b.pk]) and len(_snapshot([a.pk])) > 100
    before = _versions()

    # Between the two rebuilds: a customer of A leaves the scope (erased), one of B moves to A, a new customer of
    # A buys for the first time, and the later reference date moves recency (and with it segments) for others.
    erased = Customer.objects.filter(region=a, external_id="sa-0001").get()
    Customer.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    moved = Customer.objects.filter(region=b, external_id="sb-0002").get()
    Customer.objects.filter(pk=moved.pk).update(region=a)
    Order.objects.filter(customer=moved).update(region=a)
    newcomer = Customer.objects.create(external_id="sa-new", region=a)
    Order.objects.create(external_id="sa-new-o", customer=newcomer, region=a, placed_at=SECOND, total=40)

    result = segments_rebuild(actor=actor, region_ids=[a.pk], as_of=SECOND, bootstraps=2)

    assert _snapshot([a.pk, b.pk]) == _expected([a.pk, b.pk])
    assert erased.pk not in _snapshot([a.pk, b.pk]) and newcomer.pk in _snapshot([a.pk])
    assert _snapshot([a.pk])[moved.pk][0] == a.pk  # the moved customer's one row of the month, now in A
    assert ProfileSnapshot.objects.filter(month=MONTH, customer=moved).count() == 1
    after = _versions()
    rewritten = {c for c in before.keys() & after.keys() if before[c] != after[c]}
    unchanged = set(before) - rewritten - {erased.pk}
    assert unchanged and result.snapshot_rows["deleted"] == 1 and result.snapshot_rows["inserted"] == 1
    assert result.snapshot_rows["updated"] == len(rewritten)  # every rewritten row was a change ...
    assert len(rewritten) < len(_snapshot([a.pk])) / 2  # ... and most rows were left as they were
