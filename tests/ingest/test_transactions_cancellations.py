"""Cancellations in a transaction export are recorded as cancelled orders linked to what they cancel, counted
as cancellations (not errors), and the counts add up."""

import pytest

from cartportal.access import SystemActor
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import Order

FILE = b"""InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1001,MUG,2,2024-03-01 10:00,4.50,C1,Testland
1001,JAR,1,2024-03-01 10:00,9.00,C1,Testland
1002,MUG,1,2024-03-02 11:00,4.50,C2,Testland
1003,LAMP,1,2024-03-03 09:00,30.00,C2,Testland
C1001,MUG,-2,2024-03-04 12:00,4.50,C1,Testland
C9000,MUG,-1,2024-03-05 12:00,4.50,C2,Testland
C9001,SOFA,-1,2024-03-05 13:00,400.00,C2,Testland
1004,MUG,-1,2024-03-06 08:00,4.50,C1,Testland
"""


@pytest.mark.django_db
def test_cancellations_are_counted_and_linked():
    job = import_run(actor=SystemActor("command:test"), source=FILE, options=ImportOptions(kind="transactions"))
    counts = job.counts
    assert (counts["read"], counts["loaded"], counts["cancellations"], counts["quarantined"]) == (8, 4, 4, 0)
    orders = {o.external_id: o for o in Order.objects.select_related("cancels")}
    assert orders["C1001"].status == "cancelled" and orders["C1001"].cancels.external_id == "1001"
    # no invoice C9000's number names: the customer's latest earlier order with that product
    assert orders["C9000"].cancels.external_id == "1002"
    assert orders["C9001"].cancels is None  # nothing the customer bought matches: not determinable
    assert orders["1004"].status == "cancelled" and orders["1004"].cancels.external_id == "1001"
    assert {o.status for k, o in orders.items() if k in {"1001", "1002", "1003"}} == {"placed"}
