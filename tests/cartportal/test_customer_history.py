"""The per-customer order aggregates kept by the database as orders are imported, changed and deleted: after several
imports (cancellations, returns, late deliveries, a re-import) and ORM changes they equal a full recompute, and the
features a rescore "now" reads from them equal the features aggregated from the orders at the same cut-off."""

import datetime as dt

import pandas as pd
import pytest
from django.utils import timezone

from cartportal.access import SystemActor
from cartportal.history import recompute_customer_history
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import Customer, CustomerHistory, Order
from predictions.scoring import pipeline
from predictions.scoring.features import (
    btyd_features,
    current_btyd_features,
    current_customer_features,
    customer_features,
)
from predictions.scoring.scorers import ClassifierScorer

ACTOR = SystemActor("command:test")


def _when(days: float) -> str:
    return (timezone.now() - dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def _transactions(rows: list[tuple]) -> bytes:
    head = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    return (head + "".join(",".join(str(v) for v in row) + "\n" for row in rows)).encode()


FIRST = [
    ("1001", "MUG", 2, _when(400), "4.50", "C1", "Testland"),
    ("1001", "JAR", 1, _when(400), "9.00", "C1", "Testland"),
    ("1002", "MUG", 1, _when(120), "4.50", "C2", "Testland"),
    ("1003", "LAMP", 1, _when(60), "30.00", "C2", "Testland"),
    ("C1001", "MUG", -2, _when(399), "4.50", "C1", "Testland"),  # a cancellation
    ("1004", "MUG", -1, _when(30), "4.50", "C1", "Testland"),  # a return (negative quantity)
    ("2001", "SOFA", 1, _when(10), "400.00", "D1", "Otherland"),
]
SECOND = [
    ("1005", "JAR", 3, _when(20), "9.00", "C1", "Testland"),
    ("1005", "MUG", 1, _when(20), "4.50", "C1", "Testland"),
    ("1006", "LAMP", 2, _when(5), "30.00", "C1", "Testland"),
    ("1007", "MUG", 1, _when(95), "4.50", "C3", "Testland"),
    ("1008", "MUG", 4, _when(89), "4.50", "C3", "Testland"),
    ("2002", "SOFA", 1, _when(200), "400.00", "D1", "Otherland"),
]
ORDERS = (
    "order_id,customer_id,order_status,order_purchase_timestamp,order_estimated_delivery_date,"
    "order_delivered_customer_date,payment_value\n"
    f"O-1,C3,delivered,{_when(50)},{_when(45)},{_when(40)},55.10\n"  # late
    f"O-2,C3,delivered,{_when(30)},{_when(20)},{_when(25)},12.00\n"  # on time
    f"O-3,C2,returned,{_when(15)},{_when(10)},{_when(8)},80.00\n"  # late and returned
).encode()


def _import(kind: str, data: bytes) -> dict:
    return import_run(actor=ACTOR, source=data, options=ImportOptions(kind=kind)).counts


def _table() -> list[tuple]:
    fields = [f.name for f in CustomerHistory._meta.fields if f.name != "id"]
    return list(CustomerHistory.objects.order_by("customer_id", "region_id").values_list(*fields))


def _compare_features(as_of: dt.datetime) -> None:
    for region_id in Customer.objects.values_list("region_id", flat=True).distinct():
        bounds = {"region_id": region_id, "id_from": 0, "id_to": 2**62}
        expected = customer_features(**bounds, as_of=as_of)
        assert len(expected) > 0
        pd.testing.assert_frame_equal(current_customer_features(**bounds, as_of=as_of), expected, check_exact=True)
        pd.testing.assert_frame_equal(
            current_btyd_features(**bounds, as_of=as_of, cut_off=as_of),
            btyd_features(**bounds, as_of=as_of),
            check_exact=True,
        )


@pytest.mark.django_db
def test_incremental_aggregates_equal_a_full_recompute_and_give_the_same_features():
    first = _import("transactions", _transactions(FIRST))
    assert first["cancellations"] == 2
    _import("transactions", _transactions(SECOND))
    _import("orders", ORDERS)
    again = _import("transactions", _transactions(FIRST))  # a re-import adds nothing
    assert again["loaded"] == again["cancellations"] == 0

    c1 = CustomerHistory.objects.get(customer_id=Customer.objects.get(external_id="C1").pk)
    # orders 1001, 1005, 1006 kept; C1001 and 1004 cancelled; 1001 is older than 91 days before the last purchase
    assert (c1.orders, c1.cancelled, c1.purchase_days) == (3, 2, 3)
    assert c1.spend == pytest.approx(9.0 + 9.0 + 31.5 + 60.0)
    assert len(c1.recent_placed) == 2
    c3 = CustomerHistory.objects.get(customer_id=Customer.objects.get(external_id="C3").pk)
    assert (c3.orders, c3.late_deliveries) == (4, 1)
    c2 = CustomerHistory.objects.get(customer_id=Customer.objects.get(external_id="C2").pk)
    assert (c2.orders, c2.cancelled, c2.late_deliveries) == (2, 1, 1)

    incremental = _table()
    assert len(incremental) == 4
    assert recompute_customer_history() == 4
    assert _table() == incremental
    _compare_features(timezone.now())


@pytest.mark.django_db
def test_orm_changes_deletions_and_future_orders_keep_both_ways_equal():
    from tests.factories import OrderFactory

    _import("transactions", _transactions(FIRST + SECOND))
    _import("orders", ORDERS)
    Order.objects.filter(external_id="1006").update(status="returned")
    Order.objects.filter(external_id="1003").delete()
    c2 = Customer.objects.get(external_id="C2")
    Order.objects.filter(customer=c2).delete()  # no orders left: no row
    assert not CustomerHistory.objects.filter(customer_id=c2.pk).exists()
    c3 = Customer.objects.get(external_id="C3")
    # dated after the cut-off (the import accepts a day ahead): read from the orders, not counted at the cut-off
    OrderFactory(customer=c3, region=c3.region, placed_at=timezone.now() + dt.timedelta(hours=12), total=70)
    OrderFactory(
        customer=c3,
        region=c3.region,
        placed_at=timezone.now() - dt.timedelta(days=3),
        promised_at=timezone.now() - dt.timedelta(days=2),
        delivered_at=timezone.now() + dt.timedelta(hours=6),
        total=20,
    )
    OrderFactory(customer=None, region=c3.region, placed_at=timezone.now() - dt.timedelta(days=1), total=5)

    incremental = _table()
    recompute_customer_history()
    assert _table() == incremental
    now = timezone.now()
    _compare_features(now)
    row = current_customer_features(region_id=c3.region_id, id_from=c3.pk, id_to=c3.pk, as_of=now).iloc[0]
    assert row["orders"] == 5 and row["late_deliveries"] == 1  # the 12-hour-ahead order and delivery not yet


@pytest.mark.django_db
def test_a_rescore_now_reads_the_aggregates_and_one_at_an_earlier_cut_off_the_orders():
    scorer = ClassifierScorer(estimator=None, features=[])
    assert pipeline.chunk_reader(scorer, current=True) is current_customer_features
    assert pipeline.chunk_reader(scorer, current=False) is customer_features
