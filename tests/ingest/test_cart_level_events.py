"""Cart-level events (a checkout, a purchase of the whole cart) carry no product: a file mixing them with item
events loads every row, the cart-level ones with no product, and optional numbers and links left empty load as
missing values whatever the rest of the column holds."""

import pytest

from cartportal.access import SystemActor
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import CartEvent, Customer, Product, Session

ACTOR = SystemActor("command:test")
PRODUCTS = b"sku,name,price\nMUG,Mug,4.50\nJAR,Jar,9.00\n"
CUSTOMERS = b"customer_id,country\nC1,NORTH\nC2,NORTH\n"
SESSIONS = (
    b"session_id,customer_id,timestamp,country\nS1,C1,2024-03-01 10:00:00,NORTH\nS2,C2,2024-03-02 11:00:00,NORTH\n"
)
EVENTS = b"""event_id,session_id,customer_id,product_id,event,price,quantity,timestamp
E1,S1,C1,MUG,add_to_cart,4.50,2,2024-03-01 10:01:00
E2,S1,C1,JAR,add_to_cart,9.00,1,2024-03-01 10:02:00
E3,S1,C1,,begin_checkout,,,2024-03-01 10:03:00
E4,S1,C1,,purchase,,,2024-03-01 10:04:00
E5,S2,C2,MUG,add_to_cart,4.50,1,2024-03-02 11:01:00
E6,S2,,,checkout,,,2024-03-02 11:02:00
E7,,C2,JAR,remove_from_cart,9.00,1,2024-03-02 11:03:00
"""


def load(kind: str, data: bytes, **options):
    return import_run(actor=ACTOR, source=data, options=ImportOptions(kind=kind, **options)).counts


@pytest.mark.django_db
def test_checkout_rows_without_a_product_load_beside_item_events(world):
    assert load("products", PRODUCTS)["loaded"] == 2
    assert load("customers", CUSTOMERS)["loaded"] == 2
    assert load("sessions", SESSIONS)["loaded"] == 2
    counts = load("cart_events", EVENTS)
    assert (counts["read"], counts["loaded"], counts["quarantined"], counts["duplicates"]) == (7, 7, 0, 0)
    events = {e.source_key: e for e in CartEvent.objects.select_related("product", "session", "customer")}
    assert {k for k, e in events.items() if e.product is None} == {"E3", "E4", "E6"}
    assert events["E1"].product == Product.objects.get(sku="MUG") and events["E1"].quantity == 2
    assert events["E3"].kind == "checkout" and events["E4"].kind == "purchase"
    assert events["E3"].unit_price is None and events["E3"].quantity == 1
    # the region comes from the session where the row has no customer, from the customer where no session
    assert events["E6"].customer is None and events["E6"].session == Session.objects.get(external_id="S2")
    assert events["E7"].session is None and events["E7"].customer == Customer.objects.get(external_id="C2")
    assert {e.region_id for e in events.values()} == {world.region_a.pk}
    again = load("cart_events", EVENTS)
    assert (again["loaded"], again["duplicates"]) == (0, 7)


@pytest.mark.django_db
def test_a_file_of_only_cart_level_events_loads(world):
    load("customers", CUSTOMERS)
    counts = load("cart_events", b"customer_id,event,timestamp,sku\nC1,checkout,2024-03-01 10:03:00,\n")
    assert (counts["read"], counts["loaded"]) == (1, 1)
    assert CartEvent.objects.get().product is None
