"""The customer list's total is kept between requests (cartportal/api/counts.py) and made stale by every change to
the customers the application makes: a customer saved or deleted through the ORM, an import that finished. A row
written without the ORM's signals (a bulk insert, as an import's load does) is counted once the import ends."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from cartportal import extensions
from cartportal.models import Customer
from tests.factories import CustomerFactory


@pytest.fixture
def client(world):
    cache.clear()
    yield Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    cache.clear()


def _total(client, query="") -> int:
    response = client.get(f"/api/v1/customers/?page_size=2{query}")
    assert response.status_code == 200, response.content
    return response.json()["count"]


def _insert_behind_the_orm(region, external_id: str) -> None:
    """A customer written without the ORM's signals, as an import's bulk load writes them."""
    Customer.objects.bulk_create([Customer(external_id=external_id, region=region)])


@pytest.mark.django_db(transaction=True)
def test_the_total_is_kept_until_the_customers_change(world, client):
    start = Customer.objects.filter(region=world.region_a).count()
    assert _total(client) == start

    _insert_behind_the_orm(world.region_a, "raw-1")
    assert _total(client) == start  # the kept total: nothing the application saw has changed
    assert len(client.get("/api/v1/customers/?page_size=500").json()["results"]) == start + 1  # rows are fresh

    extensions.import_finished.send(sender=None, kind="customers", job_id=0)
    assert _total(client) == start + 1  # an import ended: counted again

    CustomerFactory(region=world.region_a)
    assert _total(client) == start + 2  # saved through the ORM

    Customer.objects.filter(external_id="raw-1").delete()
    assert _total(client) == start + 1


@pytest.mark.django_db(transaction=True)
def test_each_filter_and_scope_has_its_own_total(world, client, settings):
    CustomerFactory(region=world.region_a, consent_marketing=False)
    CustomerFactory(region=world.region_b)  # outside the token's region
    in_region = Customer.objects.filter(region=world.region_a)
    assert _total(client) == in_region.count()
    assert _total(client, "&consent_marketing=false") == in_region.filter(consent_marketing=False).count()
    assert _total(client, f"&region={world.region_b.code}") == 0

    settings.API_COUNT_CACHE_SECONDS = 0  # counted on every request
    _insert_behind_the_orm(world.region_a, "raw-2")
    assert _total(client) == in_region.count()


@pytest.mark.django_db(transaction=True)
def test_a_kept_total_behind_the_rows_neither_cuts_a_page_nor_refuses_the_page_after_it(world, client):
    Customer.objects.filter(region=world.region_a).delete()
    CustomerFactory(region=world.region_a)
    CustomerFactory(region=world.region_a)
    assert _total(client) == 2  # kept: one full page of two

    for i in range(3):
        _insert_behind_the_orm(world.region_a, f"raw-page-{i}")
    first = client.get("/api/v1/customers/?page_size=2").json()
    assert first["count"] == 2 and len(first["results"]) == 2
    second = client.get("/api/v1/customers/?page_size=2&page=2")  # past the kept total: counted again
    assert second.status_code == 200, second.content
    assert second.json()["count"] == 5 and len(second.json()["results"]) == 2
    assert client.get("/api/v1/customers/?page_size=2&page=4").status_code == 404  # past the fresh total too


@pytest.mark.django_db(transaction=True)
def test_callers_with_other_regions_do_not_share_a_kept_total(world, client):
    from cartportal import access
    from cartportal.models import PartnerToken

    CustomerFactory(region=world.region_a)
    CustomerFactory(region=world.region_b)
    CustomerFactory(region=world.region_b)
    access.grant_region(world.partner, world.region_b, access.PARTNER)
    key = PartnerToken.new_key()
    both = PartnerToken.objects.create(
        name="both", user=world.partner, scopes=["read"], key_prefix=key[:10], key_hash=PartnerToken.hash_key(key)
    )
    both.regions.set([world.region_a, world.region_b])
    wide = Client(HTTP_AUTHORIZATION=f"Token {key}")

    assert _total(client) == Customer.objects.filter(region=world.region_a).count()  # kept for the first token
    assert _total(wide) == Customer.objects.filter(region__in=[world.region_a, world.region_b]).count()
    assert _total(client) == Customer.objects.filter(region=world.region_a).count()


@pytest.mark.django_db
def test_the_customer_filters_answer_alike_on_every_request(world, client):
    """The customer list's filter set is built lean (its form class once per class, not per request): every
    filter still applies on every request, together with the others, and a request without filters or ordering
    lists everything in id order."""
    CustomerFactory(region=world.region_a, consent_marketing=True, external_id="lean-yes")
    CustomerFactory(region=world.region_a, consent_marketing=False, external_id="lean-no")
    visible = Customer.objects.filter(region=world.region_a)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/customers/?page_size=100{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    for _ in range(2):  # the second request reuses the form class the first built
        assert ids("") == sorted(visible.values_list("pk", flat=True))
        assert ids("&consent_marketing=true") == sorted(
            visible.filter(consent_marketing=True).values_list("pk", flat=True)
        )
        assert ids("&external_id=lean-no") == list(visible.filter(external_id="lean-no").values_list("pk", flat=True))
        assert ids(f"&region={world.region_b.code}") == []  # another region's code: nothing of it is visible
        assert ids("&ordering=-id") == sorted(visible.values_list("pk", flat=True), reverse=True)
        assert ids("&consent_marketing=false&external_id=lean-no") == ids("&external_id=lean-no")
