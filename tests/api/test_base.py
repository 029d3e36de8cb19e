"""The API base: token authentication, scopes, the one error shape."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from cartportal.models import PartnerToken

pytestmark = pytest.mark.django_db


def _token(world, scopes, *, revoked=False):
    key = PartnerToken.new_key()
    token = PartnerToken.objects.create(
        name=f"t-{'-'.join(scopes)}",
        user=world.partner,
        scopes=scopes,
        key_prefix=key[:10],
        key_hash=PartnerToken.hash_key(key),
        revoked_at=timezone.now() if revoked else None,
    )
    token.regions.set([world.region_a])
    return key


def _assert_error_shape(response, status):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message", "fields"}
    assert body["error"]["status"] == status
    return body["error"]


def test_schema_needs_authentication_and_answers_with_a_token(world):
    _assert_error_shape(Client().get("/api/v1/schema/"), 401)
    response = Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_unknown_and_revoked_tokens_are_refused(world):
    err = _assert_error_shape(Client().get("/api/v1/schema/", HTTP_AUTHORIZATION="Token cp_nope"), 401)
    assert err["code"] == "authentication_failed"
    revoked = _token(world, ["read"], revoked=True)
    err = _assert_error_shape(Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Token {revoked}"), 401)
    assert "revoked" in err["message"]


def test_a_token_without_read_scope_cannot_read(world):
    write_only = _token(world, ["write"])
    _assert_error_shape(Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Token {write_only}"), 403)


def test_unknown_api_path_answers_json_404(world):
    client = Client()
    client.force_login(world.manager_a)
    err = _assert_error_shape(client.get("/api/v1/no-such-thing/"), 404)
    assert err["code"] == "not_found"


def test_docs_page_is_for_logged_in_users_and_served_offline(world):
    assert Client().get("/api/v1/docs/").status_code == 302
    client = Client()
    client.force_login(world.analyst_a)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "swagger-ui" in body and "cdn" not in body.lower()


def test_malformed_json_is_a_400_in_the_error_shape(world):
    client = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    response = client.post("/api/v1/sessions/score/", data="{not json", content_type="application/json")
    err = _assert_error_shape(response, 400)
    assert err["code"] == "parse_error"


def test_live_scoring_validates_its_input(world):
    client = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    response = client.post(
        "/api/v1/sessions/score/",
        data={"region": world.region_a.code, "bounce_rate": 7, "product_pages": -1},
        content_type="application/json",
    )
    err = _assert_error_shape(response, 400)
    assert set(err["fields"]) == {"bounce_rate", "product_pages"}


def test_a_token_is_throttled_on_its_own(world, settings):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], token="3/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from django.core.cache import cache

    cache.clear()
    first = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    second_key = _token(world, ["read"])
    second = Client(HTTP_AUTHORIZATION=f"Token {second_key}")
    statuses = [first.get("/api/v1/regions/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    err = _assert_error_shape(first.get("/api/v1/regions/"), 429)
    assert err["code"] == "throttled"
    assert second.get("/api/v1/regions/").status_code == 200
    cache.clear()


def test_token_reads_only_its_regions_even_when_its_user_has_more(world):
    from cartportal import access

    access.grant_region(world.partner, world.region_b, access.PARTNER)
    client = Client(HTTP_AUTHORIZATION=f"Token {world.partner_token_key}")
    codes = [r["code"] for r in client.get("/api/v1/regions/").json()["results"]]
    assert codes == [world.region_a.code]
