"""The partner API's lean read path: the token's principal is cached and yet every change of access is seen on the
very next request; a risk lookup costs at most three queries; grants are matched on integer region ids; the
customer's current score is the newest published one that scored them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from cartportal import access, services
from cartportal.models import PartnerToken
from predictions.models import ModelVersion, Score, ScoringRun
from segments.models import CustomerProfile
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(world) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")


def _publish(kind: str, minutes_ago: int, scores: dict, region, state: str = "published") -> ScoringRun:
    version = ModelVersion.objects.create(kind=kind, algorithm="test", status="retired")
    run = ScoringRun.objects.create(
        model_version=version,
        kind=kind,
        state=state,
        published_at=timezone.now() - timezone.timedelta(minutes=minutes_ago),
    )
    Score.objects.bulk_create(
        [Score(run=run, customer=c, region=region, value=v, extra={"expected_spend": v}) for c, v in scores.items()]
    )
    return run


def test_a_risk_lookup_reads_at_most_three_queries_once_the_token_is_known(world):
    customer = CustomerFactory(region=world.region_a)
    _publish("abandonment", 30, {customer: 0.2}, world.region_a)
    _publish("abandonment", 5, {customer: 0.64}, world.region_a)
    _publish("value", 5, {customer: 80.0}, world.region_a)
    client = _client(world)
    assert client.get(f"/api/v1/customers/{customer.pk}/risk/").status_code == 200  # resolves and caches the token
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/customers/{customer.pk}/risk/")
    assert response.status_code == 200
    body = response.json()
    assert body["risk"]["probability"] == 0.64
    assert "64%" in body["explanation"] and "80.00" in body["explanation"]
    assert len(queries) <= 3, [q["sql"] for q in queries.captured_queries]
    assert not any("::varchar" in q["sql"] or "object_pk" in q["sql"] for q in queries.captured_queries)
    detail = client.get(f"/api/v1/customers/{customer.pk}/").json()  # the general read path agrees to the field
    assert body["risk"] == detail["risk"] and body["explanation"] == detail["explanation"]


def test_a_risk_lookup_outside_the_tokens_regions_answers_like_a_missing_customer(world):
    foreign = CustomerFactory(region=world.region_b)
    _publish("abandonment", 5, {foreign: 0.5}, world.region_b)
    client = _client(world)
    assert client.get(f"/api/v1/customers/{foreign.pk}/risk/").status_code == 404
    assert client.get(f"/api/v1/customers/{foreign.pk + 10_000}/risk/").status_code == 404


def test_the_customer_list_reads_current_scores_in_a_bounded_number_of_queries(world):
    customers = [CustomerFactory(region=world.region_a) for _ in range(60)]
    _publish("abandonment", 10, {c: 0.1 for c in customers}, world.region_a)
    newest = _publish("abandonment", 1, {c: 0.9 for c in customers[:30]}, world.region_a)
    _publish("abandonment", 0, {c: 0.5 for c in customers}, world.region_a, state="running")
    _publish("value", 3, {c: 12.5 for c in customers}, world.region_a)
    for c in customers[:5]:
        CustomerProfile.objects.create(
            customer=c,
            region=world.region_a,
            rfm_segment="champions",
            built_at=timezone.now(),
            reference_at=timezone.now(),
        )
    client = _client(world)
    client.get("/api/v1/customers/?page_size=50")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/customers/?page_size=50")
    rows = response.json()["results"]
    assert len(rows) == 50
    by_id = {row["id"]: row for row in rows}
    assert by_id[customers[0].pk]["risk"]["probability"] == 0.9
    assert by_id[customers[0].pk]["risk"]["model_version"] == newest.model_version_id
    assert by_id[customers[40].pk]["risk"]["probability"] == 0.1  # not in the newest run: the one before
    assert all(row["value"]["expected_spend"] == 12.5 for row in rows)
    assert all(row["value"]["model"] == "test" for row in rows)  # the value model's name travels with the score
    assert {"kind": "rfm", "code": "champions"} in by_id[customers[0].pk]["segments"]
    assert len(queries) <= 5, [q["sql"] for q in queries.captured_queries]


def test_a_revoked_token_is_refused_on_its_very_next_request(world):
    customer = CustomerFactory(region=world.region_a)
    client = _client(world)
    for _ in range(2):  # the second answer comes from the cached principal
        assert client.get(f"/api/v1/customers/{customer.pk}/risk/").status_code == 200
    services.revoke_partner_token(actor=world.partner, token=world.partner_token)
    response = client.get(f"/api/v1/customers/{customer.pk}/risk/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_a_revocation_saved_elsewhere_and_a_later_revocation_time_are_both_honoured(world):
    customer = CustomerFactory(region=world.region_a)
    client = _client(world)
    token = PartnerToken.objects.get(pk=world.partner_token.pk)
    token.revoked_at = timezone.now() + timezone.timedelta(seconds=1)  # e.g. the admin, effective shortly
    token.save()
    assert client.get(f"/api/v1/customers/{customer.pk}/").status_code == 200
    token.revoked_at = timezone.now() - timezone.timedelta(seconds=1)
    token.save()
    assert client.get(f"/api/v1/customers/{customer.pk}/").status_code == 401


def test_region_changes_are_seen_on_the_next_request(world):
    customer = CustomerFactory(region=world.region_a)
    client = _client(world)
    url = f"/api/v1/customers/{customer.pk}/risk/"
    assert client.get(url).status_code == 200
    access.revoke_region(world.partner, world.region_a)
    assert client.get(url).status_code == 404  # as if missing
    access.grant_region(world.partner, world.region_a, access.PARTNER)
    assert client.get(url).status_code == 200
    world.partner_token.regions.remove(world.region_a)
    assert client.get(url).status_code == 404
    world.partner_token.regions.add(world.region_a)
    world.partner.is_active = False
    world.partner.save()
    assert client.get(url).status_code == 401


def test_only_the_owner_or_an_administrator_revokes_a_token(world):
    with pytest.raises(services.Forbidden):
        services.revoke_partner_token(actor=world.manager_a, token=world.partner_token)
    world.partner_token.refresh_from_db()
    assert world.partner_token.revoked_at is None


@pytest.mark.parametrize("action", sorted(access.ACTION_PERMS))
def test_grants_matched_on_integer_ids_agree_with_guardian(world, action):
    group = access.ensure_role_groups()[access.ANALYST]
    user = UserFactory(username=f"granted-{action}")
    user.groups.add(group)
    access.grant_region(user, world.region_b, access.REGIONAL_MANAGER)
    access.grant_region(group, world.region_a, access.ANALYST)
    perm = f"cartportal.{access.ACTION_PERMS[action]}"
    expected = set(
        get_objects_for_user(user, perm, use_groups=True, with_superuser=False, accept_global_perms=False).values_list(
            "pk", flat=True
        )
    )
    assert set(access._granted(user, action).values_list("pk", flat=True)) == expected
    assert world.region_b.pk in expected


def test_the_principal_comes_from_the_process_copy_and_a_revocation_still_ends_it(world):
    """Each process keeps the principals it resolved: with the shared entry gone the next request still needs no
    query for the token, its user or grants; a revocation (a new access generation) is seen on the next request."""
    from django.core.cache import cache

    from cartportal.api import principals

    customer = CustomerFactory(region=world.region_a)
    client = _client(world)
    url = f"/api/v1/customers/{customer.pk}/risk/"
    assert client.get(url).status_code == 200
    cache.delete(principals._entry_key(world.partner_token.key_hash))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]  # the lookup itself
    services.revoke_partner_token(actor=world.partner, token=world.partner_token)
    assert client.get(url).status_code == 401


def test_the_risk_lookup_is_prepared_once_per_database_session(world):
    customer = CustomerFactory(region=world.region_a)
    _publish("abandonment", 5, {customer: 0.64}, world.region_a)
    client = _client(world)
    for _ in range(3):
        response = client.get(f"/api/v1/customers/{customer.pk}/risk/")
        assert response.json()["risk"]["probability"] == 0.64
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%external_id%"])
        statements = [row[0] for row in cursor.fetchall()]
    assert len(statements) == 1, statements
    assert "$1" in statements[0]


def test_an_unknown_key_leaves_no_rate_counter_behind(world):
    from django.core.cache import cache

    from cartportal.api.auth import TokenRateThrottle
    from cartportal.models import PartnerToken

    customer = CustomerFactory(region=world.region_a)
    key = "cp_" + "x" * 40
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(f"/api/v1/customers/{customer.pk}/risk/")
    assert response.status_code == 401
    prefix = TokenRateThrottle.token_key(PartnerToken.hash_key(key))
    client = cache._cache.get_client(prefix)
    assert not list(client.scan_iter(match=f"*{prefix}*"))
    # a known token is counted, with the request that reads its access generation
    assert _client(world).get(f"/api/v1/customers/{customer.pk}/risk/").status_code == 200
    assert _client(world).get(f"/api/v1/customers/{customer.pk}/risk/").status_code == 200
    known = TokenRateThrottle.token_key(world.partner_token.key_hash)
    assert list(client.scan_iter(match=f"*{known}*"))
