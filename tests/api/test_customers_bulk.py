"""A bulk request that mixes own and foreign ids changes nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from cartportal.models import AuditEvent, Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/bulk-consent/"


def _state():
    return (
        sorted(Customer.objects.values_list("pk", "consent_marketing", "consent_updated_at")),
        AuditEvent.objects.filter(action="customer.consent_changed").count(),
    )


def _post(client, body):
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def _clients(world):
    session = Client()
    session.force_login(world.manager_a)
    token = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    return {"manager_a": session, "token_rw": token}


@pytest.mark.parametrize("principal", ["manager_a", "token_rw"])
def test_mixed_own_and_foreign_ids_change_nothing(world, principal):
    own = CustomerFactory.create_batch(3, region=world.region_a, consent_marketing=True)
    foreign = CustomerFactory(region=world.region_b, consent_marketing=True)
    client = _clients(world)[principal]
    before = _state()
    response = _post(client, {"ids": [c.pk for c in own] + [foreign.pk], "consent_marketing": False})
    assert response.status_code == 404
    assert response.json()["error"]["fields"] == {"ids": [foreign.pk]}
    assert _state() == before
    denied = AuditEvent.objects.filter(action="access.denied", object_id=str(foreign.pk))
    assert denied.count() == 1


def test_foreign_and_missing_ids_are_answered_alike(world):
    own = CustomerFactory(region=world.region_a)
    foreign = CustomerFactory(region=world.region_b)
    client = _clients(world)["manager_a"]
    with_foreign = _post(client, {"ids": [own.pk, foreign.pk], "consent_marketing": False})
    with_missing = _post(client, {"ids": [own.pk, 987654321], "consent_marketing": False})
    assert with_foreign.status_code == with_missing.status_code == 404
    assert with_foreign.json()["error"]["message"] == with_missing.json()["error"]["message"]


def test_own_ids_change_together_with_one_audit_row_each(world):
    own = CustomerFactory.create_batch(4, region=world.region_a, consent_marketing=True)
    client = _clients(world)["token_rw"]
    response = _post(client, {"ids": [c.pk for c in own], "consent_marketing": False})
    assert response.status_code == 200
    assert response.json() == {"updated": 4, "ids": sorted(c.pk for c in own)}
    assert not Customer.objects.filter(pk__in=[c.pk for c in own], consent_marketing=True).exists()
    rows = AuditEvent.objects.filter(action="customer.consent_changed")
    assert rows.count() == 4
    assert all(r.actor.startswith(f"user:{world.partner.pk}/token:") for r in rows)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"ids": [], "consent_marketing": False}, "ids"),
        ({"ids": ["x"], "consent_marketing": False}, "ids"),
        ({"ids": [1]}, None),
        ({"consent_marketing": False}, "ids"),
    ],
)
def test_bad_bulk_bodies_are_400_with_fields(world, body, field):
    response = _post(_clients(world)["manager_a"], body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] in ("invalid", "min_length", "required")
    if field:
        assert field in error["fields"]
