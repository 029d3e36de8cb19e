"""A 10,000-row cart-event export with 20 kinds of fault: every good row loads, every bad row is quarantined
with its line, column and reason, duplicates are counted, and the numbers add up."""

import pytest

from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import CartEvent, QuarantinedRow
from tests.ingest.corrupt import build

OPTIONS = dict(
    kind="cart_events",
    mapping={"session": "session_id", "customer": "customer_id", "kind": "event", "occurred_at": "timestamp"},
)


@pytest.fixture
def corrupt(world):
    file = build(world)
    import_run(actor=world.manager_a, source=file.preload, options=ImportOptions(**OPTIONS))
    assert CartEvent.objects.count() == 1
    return file


def quarantine_of(job):
    rows = QuarantinedRow.objects.filter(job=job)
    bad = {r.line: (r.code, r.column) for r in rows if not r.code.startswith("duplicate")}
    dupes = {r.line for r in rows if r.code.startswith("duplicate")}
    return bad, dupes


@pytest.mark.django_db
def test_every_good_row_loads_and_every_bad_row_is_quarantined(world, corrupt):
    job = import_run(actor=world.manager_a, source=corrupt.data, options=ImportOptions(**OPTIONS))
    counts = job.counts
    assert counts["read"] == corrupt.rows
    assert counts["read"] == counts["loaded"] + counts["cancellations"] + counts["quarantined"] + counts["duplicates"]
    bad, dupes = quarantine_of(job)
    assert bad == corrupt.quarantine
    assert dupes == corrupt.duplicates
    assert counts["loaded"] == len(corrupt.good)
    assert counts["quarantined"] == len(corrupt.quarantine)
    assert len({code for code, _ in corrupt.quarantine.values()}) >= 14
    assert CartEvent.objects.count() == 1 + len(corrupt.good)
    assert not CartEvent.objects.exclude(region=world.region_a).exists()
    assert all(r.raw for r in QuarantinedRow.objects.filter(job=job))


@pytest.mark.django_db
def test_reimport_adds_nothing(world, corrupt):
    import_run(actor=world.manager_a, source=corrupt.data, options=ImportOptions(**OPTIONS))
    before = CartEvent.objects.count()
    again = import_run(actor=world.manager_a, source=corrupt.data, options=ImportOptions(**OPTIONS))
    assert CartEvent.objects.count() == before
    assert again.counts["loaded"] == 0
    assert again.counts["duplicates"] == len(corrupt.good) + len(corrupt.duplicates)
    assert again.counts["quarantined"] == len(corrupt.quarantine)
