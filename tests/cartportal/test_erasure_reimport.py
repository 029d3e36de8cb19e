"""Erasure reaches the import side: quarantined raw rows and stored uploads that name the person are redacted, and
re-importing the same file does not bring the person back (the import says how many rows it skipped and why)."""

import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cartportal.erasure import erasure_key_hash
from cartportal.models import AuditEvent, Customer, ErasedCustomer, JobRun, QuarantinedRow
from tests.base import PASSWORD

pytestmark = pytest.mark.django_db

ADA = ("SHOP-991", "Ada Lovelace", "ada@example.org")
FILE = (
    "customer_id,name,email,first_seen\n"
    "SHOP-991,Ada Lovelace,ada@example.org,2024-01-05\n"
    "SHOP-992,Bob Stone,bob@example.org,2024-02-01\n"
    "SHOP-991,Ada Lovelace,ada@example.org,2024-13-45\n"
    "SHOP-993,Cy Twombly,cy@example.org,2024-02-30\n"
)


def _import(path, capsys) -> dict:
    call_command("import_file", "customers", str(path), "--region", "NORTH")
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _login(username: str) -> Client:
    client = Client(REMOTE_ADDR="10.9.0.1")
    client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert "_auth_user_id" in client.session
    return client


def _everything_shown(client, job_id: int) -> str:
    page = client.get(reverse("ingest:import", kwargs={"job_id": job_id}))
    csv = client.get(reverse("ingest:import", kwargs={"job_id": job_id}) + "?format=csv")
    api = client.get(f"/api/v1/imports/{job_id}/quarantine/")
    assert (page.status_code, csv.status_code, api.status_code) == (200, 200, 200)
    return page.content.decode() + b"".join(csv.streaming_content).decode() + api.content.decode()


def test_erased_customer_leaves_quarantine_and_uploads_and_is_not_imported_again(world, tmp_path, settings, capsys):
    settings.CARTPORTAL_UPLOAD_DIR = str(tmp_path / "uploads")
    source = tmp_path / "customers.csv"
    source.write_text(FILE)
    first = _import(source, capsys)
    assert (first["read"], first["loaded"], first["quarantined"], first["erased_skipped"]) == (4, 2, 2, 0)
    ada = Customer.objects.get(external_id="SHOP-991")
    job = JobRun.objects.get(pk=first["job"])
    # the upload kept on disk for this import, and another one that does not name Ada
    (tmp_path / "uploads").mkdir()
    kept = tmp_path / "uploads" / f"import-{job.pk}.csv"
    kept.write_text(FILE)
    other = tmp_path / "uploads" / "import-99999.csv"
    other.write_text("customer_id,name\nSHOP-500,Dora Maar\n")
    client = _login(world.manager_a.username)
    assert "ada@example.org" in _everything_shown(client, job.pk)

    call_command("erase_customer", "SHOP-991")

    shown = _everything_shown(client, job.pk)
    for personal in ADA:
        assert personal not in shown
    assert "Cy Twombly" in shown  # other people's quarantined rows stay as they were
    rows = dict(QuarantinedRow.objects.filter(job=job).values_list("line", "raw"))
    assert rows[4].startswith("[redacted") and "Cy Twombly" in rows[5]
    lines = kept.read_text().splitlines()
    assert lines == [FILE.splitlines()[0], "", FILE.splitlines()[2], "", FILE.splitlines()[4]]  # line numbers kept
    assert other.read_text() == "customer_id,name\nSHOP-500,Dora Maar\n"
    erased = AuditEvent.objects.get(action="customer.erased")
    assert erased.after["quarantined_rows_redacted"] == 1 and erased.after["uploads_redacted"] == 1
    remembered = ErasedCustomer.objects.get()
    assert remembered.key_hash == erasure_key_hash("SHOP-991") and remembered.region_id == ada.region_id
    assert "SHOP-991" not in remembered.key_hash

    again = _import(source, capsys)
    assert (again["read"], again["erased_skipped"], again["loaded"]) == (4, 2, 0)
    assert again["duplicates"] == 1 and again["quarantined"] == 1  # Bob is loaded already; Cy's date is still bad
    assert again["read"] == sum(
        again[k] for k in ("loaded", "cancellations", "quarantined", "duplicates", "erased_skipped")
    )
    assert not Customer.objects.filter(external_id="SHOP-991").exists()
    assert Customer.objects.filter(pk=ada.pk, erased_at__isnull=False).exists()
    reimport = JobRun.objects.get(pk=again["job"])
    assert "erased" in reimport.counts["erased_reason"]
    assert not QuarantinedRow.objects.filter(job=reimport, raw__icontains="ada").exists()
    assert "ada@example.org" not in _everything_shown(client, reimport.pk)
    api_job = client.get(f"/api/v1/imports/{reimport.pk}/").json()
    assert api_job["counts"]["erased_skipped"] == 2


def test_erased_customer_is_not_recreated_by_their_orders(world, tmp_path, capsys):
    """Transactions create the customers they name: an erased one is skipped there too, not quarantined."""
    source = tmp_path / "tx.csv"
    source.write_text(
        "invoice,sku,description,quantity,date,price,customer\n"
        "INV1,P1,Mug,1,2024-03-01 10:00,4.50,SHOP-991\n"
        "INV2,P1,Mug,2,2024-03-02 10:00,4.50,SHOP-992\n"
    )
    call_command("import_file", "transactions", str(source), "--region", "NORTH")
    capsys.readouterr()
    call_command("erase_customer", "SHOP-991")
    source.write_text(source.read_text().replace("INV1", "INV3").replace("INV2", "INV4"))
    call_command("import_file", "transactions", str(source), "--region", "NORTH")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["erased_skipped"] == 1 and result["quarantined"] == 0
    assert not Customer.objects.filter(external_id="SHOP-991").exists()


def test_erasure_through_the_api_is_remembered_by_the_next_import(world, tmp_path, capsys):
    from rest_framework.test import APIClient

    source = tmp_path / "customers.csv"
    source.write_text(FILE)
    _import(source, capsys)
    ada = Customer.objects.get(external_id="SHOP-991")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    answer = api.post(f"/api/v1/customers/{ada.pk}/erase/", {"reason": "asked by e-mail"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["erased_at"] and answer.json()["external_id"] == f"erased-{ada.pk}"
    event = AuditEvent.objects.get(action="customer.erased")
    assert event.reason == "asked by e-mail" and event.actor.startswith(f"user:{world.partner.pk}/token:")
    assert not QuarantinedRow.objects.filter(raw__icontains="ada@example.org").exists()
    again = _import(source, capsys)
    assert again["erased_skipped"] == 2 and not Customer.objects.filter(external_id="SHOP-991").exists()
