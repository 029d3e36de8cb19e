"""Values that do not fit their columns, in every field of every importable kind: non-finite numbers (inf, -inf,
NaN, 1e400), numbers beyond the column's range or precision (10^15), dates far in the past or future and text
longer than its column. Every such row is quarantined with its line, column and code; every good row loads.

The faults are generated from the kinds' own field lists, so a field added later is covered too."""

import pytest

from cartportal.access import SystemActor
from cartportal.ingest.entities import LOADERS
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import QuarantinedRow

ACTOR = SystemActor("command:test")
NON_FINITE = ["inf", "-inf", "NaN", "1e400"]
FAR_PAST, FAR_FUTURE = "1850-01-01 00:00:00", "9999-12-31 00:00:00"

# One valid row per kind (with the references loaded first); {n} makes each row's key its own.
GOOD = {
    "products": {"sku": "P{n}", "name": "Mug", "category": "home", "price": "4.50", "house_brand": "no"},
    "customers": {
        "customer": "C{n}",
        "name": "Ann",
        "email": "ann@example.org",
        "first_seen": "2024-01-02 10:00:00",
        "acquisition_source": "ads",
        "acquisition_cost": "3.20",
        "device": "mobile",
        "age_band": "25-34",
        "gender": "f",
        "consent_personalisation": "yes",
        "consent_marketing": "no",
        "region": "NORTH",
    },
    "sellers": {"seller": "SE{n}", "city": "Leeds", "postcode_prefix": "LS1", "region": "NORTH"},
    "sessions": {
        "session": "S{n}",
        "customer": "C1",
        "started_at": "2024-02-01 09:00:00",
        "month": "Feb",
        "weekend": "no",
        "special_day": "0",
        "device": "mobile",
        "operating_system": "2",
        "browser": "1",
        "traffic_source": "3",
        "visitor_type": "Returning_Visitor",
        "administrative_pages": "2",
        "administrative_duration": "30.5",
        "informational_pages": "0",
        "informational_duration": "0",
        "product_pages": "5",
        "product_duration": "120",
        "bounce_rate": "0.02",
        "exit_rate": "0.04",
        "page_value": "3.5",
        "converted": "yes",
        "region": "NORTH",
    },
    "transactions": {
        "invoice": "I{n}",
        "customer": "C1",
        "date": "2024-03-01 10:00:00",
        "product": "P1",
        "description": "Mug",
        "quantity": "2",
        "price": "4.50",
        "region": "NORTH",
    },
    "orders": {
        "order": "O{n}",
        "customer": "C1",
        "status": "delivered",
        "placed_at": "2024-03-01 10:00:00",
        "promised_at": "2024-03-08 10:00:00",
        "shipped_at": "2024-03-02 10:00:00",
        "delivered_at": "2024-03-05 10:00:00",
        "freight": "4.99",
        "total": "25.00",
        "region": "NORTH",
    },
    "order_items": {"order": "O1", "line_no": "{n}", "sku": "P1", "quantity": "1", "price": "9.99", "freight": "1"},
    "payments": {"order": "O1", "sequence": "{n}", "method": "card", "instalments": "1", "value": "25.00"},
    "cart_events": {
        "event_id": "E{n}",
        "session": "S1",
        "customer": "C1",
        "sku": "P1",
        "kind": "add_to_cart",
        "price": "4.50",
        "quantity": "1",
        "occurred_at": "2024-02-01 09:05:00",
        "region": "NORTH",
    },
    "reviews": {
        "review_id": "R{n}",
        "sku": "P1",
        "customer": "C1",
        "order": "O1",
        "rating": "4",
        "title": "Nice",
        "text": "Sturdy mug.",
        "created_at": "2024-03-09 10:00:00",
        "language": "en",
        "sentiment_label": "1",
        "region": "NORTH",
    },
    "survey": {"submitted_at": "2024-03-10 10:00:00", "age": "30", "gender": "f", "region": "NORTH"},
}
# transactions either give a quantity and a price or an amount: the amount's faults go in a file of their own
VARIANTS = [(kind, row) for kind, row in GOOD.items()]
AMOUNT_ONLY = {k: v for k, v in GOOD["transactions"].items() if k not in {"quantity", "price"}} | {"amount": "9.00"}
VARIANTS.append(("transactions", AMOUNT_ONLY))


def faults(field) -> list[tuple[str, str]]:
    """(value, expected code) for every fault that applies to the field."""
    if field.kind in {"int", "decimal"}:
        out = [(value, "not_finite") for value in NON_FINITE]
        if field.kind == "int" or field.digits or field.max is not None:
            out.append(("1000000000000000", "out_of_range"))
        return out
    if field.kind == "datetime":
        # a field that may hold future dates (a promised delivery) still stops at a sane horizon
        return [
            (FAR_PAST, "date_out_of_range"),
            (FAR_FUTURE, "date_out_of_range" if field.allow_future else "future_date"),
        ]
    if field.kind == "text" and field.max_length:
        return [("x" * (field.max_length + 1), "too_long")]
    return []


def build(kind: str, template: dict) -> tuple[bytes, set[int], dict[int, tuple[str, str]]]:
    """A file of good rows and one faulty row per fault of every field; the lines expected to load and the
    (code, column) expected for each quarantined line."""
    spec = LOADERS[kind].spec
    header = list(template)
    rows, good, bad = [], set(), {}

    def add(values: dict) -> int:
        n = len(rows) + 2  # line numbers: the header is line 1
        rows.append(",".join(values[h].format(n=n) for h in header))
        return n

    good.add(add(template))
    for field in spec.fields:
        if field.name not in template:
            continue
        for value, code in faults(field):
            bad[add(template | {field.name: value})] = (code, field.name)
            good.add(add(template))
    return ("\n".join([",".join(header), *rows]) + "\n").encode(), good, bad


def load(kind: str, data: bytes):
    return import_run(actor=ACTOR, source=data, options=ImportOptions(kind=kind))


@pytest.fixture
def references(world):
    load("products", b"sku,name,price\nP1,Mug,4.50\n")
    load("customers", b"customer,region\nC1,NORTH\n")
    load("sessions", b"session,customer,started_at,region\nS1,C1,2024-02-01 09:00:00,NORTH\n")
    load("orders", b"order,customer,placed_at,region\nO1,C1,2024-03-01 10:00:00,NORTH\n")


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "template"), VARIANTS, ids=[f"{k}-{'-'.join(t)[:20]}" for k, t in VARIANTS])
def test_every_fault_is_quarantined_with_its_code_and_every_good_row_loads(references, kind, template):
    data, good, bad = build(kind, template)
    assert bad, "every kind has fields that can hold a fault"
    job = load(kind, data)
    counts = job.counts
    quarantined = {r.line: (r.code, r.column) for r in QuarantinedRow.objects.filter(job=job)}
    assert quarantined == bad
    assert (counts["read"], counts["quarantined"], counts["duplicates"]) == (len(good) + len(bad), len(bad), 0)
    assert counts["loaded"] + counts["cancellations"] == len(good)
