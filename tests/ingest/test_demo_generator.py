"""Without a data folder the demo loads a generated shop through the same import pipeline."""

from io import StringIO

import pytest

from cartportal.ingest.demo import load_demo_data
from cartportal.ingest.generator import generate
from cartportal.models import CartEvent, Customer, JobRun, Order, Review, Session


@pytest.mark.django_db
def test_generated_shop_loads_completely():
    files = generate()
    out = StringIO()
    load_demo_data(None, out)
    jobs = JobRun.objects.filter(kind__startswith="import:")
    assert jobs.count() == 6
    for job in jobs:
        counts = job.counts
        rows = files[job.kind.split(":", 1)[1]].count(b"\n") - 1
        assert counts["read"] == rows
        assert counts["quarantined"] == 0, (job.kind, counts.get("by_code"))
        assert counts["read"] == counts["loaded"] + counts["cancellations"] + counts["duplicates"]
    assert Customer.objects.count() == 1500
    assert set(Customer.objects.values_list("region__code", flat=True)) == {"UK", "DE", "FR"}
    assert Session.objects.filter(converted=True).exists() and Session.objects.filter(converted=False).exists()
    assert CartEvent.objects.filter(kind="purchase").exists()
    assert Order.objects.exclude(total=0).exists()
    assert Review.objects.exclude(text="").exists()
