"""The corrupted file and JSON batches through the API: same results as the pipeline, clear errors, no 5xx. A file
is imported on a real worker (202 with the job), a JSON batch in the request (201 with the counts)."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from cartportal.ingest.services import stored_upload
from cartportal.models import CartEvent, JobRun, QuarantinedRow
from tests.base import build_world
from tests.ingest.corrupt import build

MAPPING = {"session": "session_id", "customer": "customer_id", "kind": "event", "occurred_at": "timestamp"}


def client_for(user=None, token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    elif user:
        client.force_authenticate(user)
    return client


def wait_until_ended(client, status_url: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(status_url).json()
        if body["state"] in ("succeeded", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{status_url} did not end within {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_corrupted_file_through_the_api(celery_worker_process):
    world = build_world()
    file = build(world)
    client = client_for(token=world.partner_token_key)
    preload = client.post(
        "/api/v1/imports/cart_events/",
        {"file": SimpleUploadedFile("pre.csv", file.preload), **{f"mapping.{k}": v for k, v in MAPPING.items()}},
    )
    assert preload.status_code == 202, preload.content
    assert wait_until_ended(client, preload.json()["status_url"])["state"] == "succeeded"
    response = client.post(
        "/api/v1/imports/cart_events/", {"file": SimpleUploadedFile("events.csv", file.data)}, format="multipart"
    )
    # the file is imported on the worker: the answer is the queued job and where to follow it
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["state"] == "queued" and accepted["counts"] == {}
    assert accepted["status_url"] == f"/api/v1/imports/{accepted['id']}/" == response["Location"]
    body = wait_until_ended(client, accepted["status_url"])
    assert body["state"] == "succeeded", body["error"]
    counts = body["counts"]
    assert counts["read"] == file.rows
    assert counts["loaded"] == len(file.good)
    rows = QuarantinedRow.objects.filter(job_id=body["id"])
    assert {r.line: (r.code, r.column) for r in rows if not r.code.startswith("duplicate")} == file.quarantine
    assert {r.line for r in rows if r.code.startswith("duplicate")} == file.duplicates
    assert CartEvent.objects.count() == 1 + len(file.good)
    assert body["quality"]["uniqueness"]["count"] == len(file.duplicates)
    assert body["quality"]["validity"]["count"] > 0
    page = client.get(f"/api/v1/imports/{body['id']}/quarantine/?code=unknown_reference").json()
    assert page["count"] == sum(1 for c, _ in file.quarantine.values() if c == "unknown_reference")
    # the upload is deleted once its import has ended
    assert stored_upload(body["id"]) is None and stored_upload(preload.json()["id"]) is None


@pytest.mark.django_db
def test_a_file_for_a_foreign_region_is_refused_before_any_job(world):
    response = client_for(world.manager_a).post(
        "/api/v1/imports/cart_events/",
        {"file": SimpleUploadedFile("e.csv", b"session_id,event\nS1,add\n"), "region": world.region_b.code},
        format="multipart",
    )
    assert response.status_code == 400 and "may not import into it" in response.json()["error"]["message"]
    assert not JobRun.objects.filter(kind__startswith="import:").exists()


@pytest.mark.django_db
def test_json_batch_reports_each_bad_row(world):
    from cartportal.models import Product, Session

    Product.objects.create(sku="A1", name="a", price=3)
    Session.objects.create(external_id="S1", region=world.region_a)
    rows = [
        {"session_id": "S1", "sku": "A1", "event": "add", "price": 3, "timestamp": "2025-03-01 10:00:00"},
        {"session_id": "S1", "sku": "A1", "event": "add", "price": "abc", "timestamp": "2025-03-01 10:01:00"},
        {"session_id": "S9", "sku": "A1", "event": "add", "price": 3, "timestamp": "2025-03-01 10:02:00"},
        {"session_id": "S1", "sku": "A1", "event": "add", "price": 3, "timestamp": "2025-03-01 10:00:00"},
        ["not", "an", "object"],
        {"session_id": "S1", "sku": "A1", "event": "teleport", "price": 3, "timestamp": "2025-03-01 10:03:00"},
    ]
    response = client_for(world.manager_a).post("/api/v1/imports/cart_events/", {"rows": rows}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"]["read"] == 6
    assert (body["counts"]["loaded"], body["counts"]["duplicates"], body["counts"]["quarantined"]) == (1, 1, 4)
    by_row = {q["row"]: (q["code"], q["column"]) for q in body["quarantine"]}
    assert by_row == {
        2: ("not_a_number", "price"),
        3: ("unknown_reference", "session_id"),
        4: ("duplicate_in_file", ""),
        5: ("not_an_object", ""),
        6: ("bad_choice", "event"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,field",
    [
        ({}, "rows"),
        ({"rows": []}, "rows"),
        ({"rows": "text"}, "rows"),
        ({"rows": [1, 2]}, "rows"),
        ({"rows": [{"a": 1}], "mapping": {"nonsense": "a"}}, None),
        ({"rows": [{"a": 1}], "region": "SOUTH"}, None),
    ],
)
def test_bad_batches_get_a_clear_error(world, payload, field):
    response = client_for(world.manager_a).post("/api/v1/imports/cart_events/", payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["status"] == 400 and error["message"]
    if field:
        assert field in error["fields"]


@pytest.mark.django_db
def test_unknown_kind_and_read_only_token(world):
    assert (
        client_for(world.manager_a).post("/api/v1/imports/spaceships/", {"rows": [{"a": 1}]}, format="json").status_code
        == 404
    )
    world.partner_token.scopes = ["read"]
    world.partner_token.save()
    response = client_for(token=world.partner_token_key).post(
        "/api/v1/imports/cart_events/", {"rows": [{"a": 1}]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db(transaction=True)
def test_a_file_imported_on_the_worker_keeps_the_tokens_regions(celery_worker_process):
    """A token bound to region A, of a partner of A and B: the worker imports as that token, not as its user, so
    the rows of B are refused as they would have been in the request."""
    from cartportal import access
    from cartportal.models import Customer, PartnerToken

    world = build_world()
    access.grant_region(world.partner, world.region_b, access.PARTNER)
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name="only-a",
        user=world.partner,
        scopes=["read", "write"],
        key_prefix=key[:10],
        key_hash=PartnerToken.hash_key(key),
    )
    token.regions.set([world.region_a])
    client = client_for(token=key)
    data = f"customer_id,name,region\nC1,Ann,{world.region_a.code}\nC2,Bob,{world.region_b.code}\n".encode()
    response = client.post("/api/v1/imports/customers/", {"file": SimpleUploadedFile("c.csv", data)})
    assert response.status_code == 202, response.content
    body = wait_until_ended(client, response.json()["status_url"])
    assert body["state"] == "succeeded", body["error"]
    assert (body["counts"]["loaded"], body["counts"]["by_code"]) == (1, {"region_forbidden": 1})
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["C1"]
