"""Money keeps its currency: the demo's regions carry their own, and an import names the shop's."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cartportal.access import SystemActor
from cartportal.ingest.demo import load_demo_data
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.models import JobRun, Region

pytestmark = pytest.mark.django_db

CUSTOMERS = b"customer_id,country\nK1,Schweiz\nK2,Schweiz\n"


def test_an_import_creates_regions_in_the_shops_currency(world):
    options = ImportOptions(kind="customers", mapping={"customer": "customer_id", "region": "country"}, currency="chf")
    job = import_run(actor=SystemActor("command:test"), source=CUSTOMERS, options=options)
    assert job.counts["loaded"] == 2, job.counts
    assert Region.objects.get(name="Schweiz").currency == "CHF"
    assert job.parameters["currency"] == "CHF"


def test_the_import_page_says_which_currency_amounts_are_in(client, world):
    job = JobRun.objects.create(kind="import:orders", parameters={"currency": "CHF"}, started_by=world.manager_a)
    client.force_login(world.manager_a)
    body = client.get(reverse("ingest:import", args=[job.pk])).content.decode()
    assert "Amounts in this file are in CHF" in body


def test_upload_form_refuses_a_currency_that_is_not_a_code(client, world):
    client.force_login(world.manager_a)
    response = client.post(
        reverse("ingest:imports"),
        {"kind": "customers", "currency": "euro", "file": SimpleUploadedFile("c.csv", CUSTOMERS)},
    )
    assert response.status_code == 200
    assert "Write a three-letter currency code" in response.content.decode()
    assert not JobRun.objects.filter(kind__startswith="import").exists()


class _Quiet:
    def write(self, text: str) -> None:
        pass


@pytest.mark.slow
def test_generated_demo_regions_carry_their_own_currency(transactional_db):
    load_demo_data(None, _Quiet())
    currencies = dict(Region.objects.values_list("code", "currency"))
    assert currencies == {"UK": "GBP", "DE": "EUR", "FR": "EUR"}
