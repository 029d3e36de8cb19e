"""Web hardening through HTTP: NUL bytes and over-deep or non-finite JSON answer 400 in the one error shape (a
middleware and the API's parser, not each view); CSV cells are neutralised against formulas in every locale;
authenticated answers are not cached and carry a Content-Security-Policy (templates have no inline scripts);
idle portal sessions end; consent cannot be changed on an erased customer."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from cartportal.access import SystemActor
from cartportal.jobs import job_create
from cartportal.middleware import IdleTimeoutMiddleware
from cartportal.models import AuditEvent, Customer, QuarantinedRow
from cartportal.services import customer_erase
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token_client(world) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {world.partner_token_key}"
    return client


def _one_error_shape(response, status: int = 400) -> str:
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == "invalid"
    return error["message"]


@pytest.mark.parametrize(
    "path", ["/api/v1/customers/", "/api/v1/imports/", "/api/v1/segments/audiences/", "/api/v1/campaigns/"]
)
def test_a_nul_byte_in_a_query_parameter_is_a_400_on_the_api(world, path):
    response = _client(world.manager_a).get(path + "?region=NO%00RTH&ordering=%00")
    assert "NUL" in _one_error_shape(response)


@pytest.mark.parametrize("name", ["ingest:imports", "segments:audiences", "portal:jobs", "portal:insights"])
def test_a_nul_byte_in_a_query_parameter_is_a_400_page(world, name):
    response = _client(world.manager_a).get(reverse(name) + "?region=%00&page=1%002")
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_nul_byte_in_a_form_is_a_400_and_changes_nothing(world):
    data = {"region": world.region_a.code, "name": "a\x00b", "universe": "all", "rules": "[]"}
    form = urlencode(data)
    response = _client(world.manager_a).post(reverse("segments:audiences"), form, "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="segments.audience_created").exists()


def test_nul_characters_deep_nesting_and_non_finite_numbers_in_json_are_400(world):
    client = _token_client(world)
    customer = CustomerFactory(region=world.region_a, consent_marketing=True)
    url = f"/api/v1/customers/{customer.pk}/consent/"
    bodies = {
        "NUL": '{"consent_marketing": false, "note": "a\\u0000b"}',
        "deeper": '{"consent_marketing": false, "x": ' + "[" * 5000 + "]" * 5000 + "}",
    }
    for expected, body in bodies.items():
        assert expected in _one_error_shape(client.post(url, body, content_type="application/json"))
    non_finite = client.post(url, '{"consent_marketing": NaN}', content_type="application/json")
    assert non_finite.status_code == 400 and non_finite.json()["error"]["status"] == 400
    # an escaped backslash before "u0000" is text, not a NUL: it passes the guard
    fine = client.post(url, '{"consent_marketing": false, "note": "\\\\u0000"}', content_type="application/json")
    assert fine.status_code == 200
    assert Customer.objects.get(pk=customer.pk).consent_marketing is False


def _cells(text: str, delimiter: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]


def _assert_no_formula_in_any_locale(text: str) -> None:
    for delimiter in (",", ";", "\t"):
        starts = [c for c in _cells(text, delimiter) if c.lstrip()[:1] in ("=", "+", "@")]
        assert starts == [], f"cells that run as formulas with {delimiter!r} as the separator: {starts}"


def test_csv_cells_are_neutralised_in_every_locale(world):
    CustomerFactory(region=world.region_a, external_id="semi;=1+1")
    CustomerFactory(region=world.region_a, external_id="=HYPERLINK(1)")
    job = job_create(kind="import:customers", region=world.region_a, actor=world.manager_a)
    QuarantinedRow.objects.create(
        job=job, region=world.region_a, line=2, code="bad_choice", message="x", raw="n;=cmd|' /C calc'!A0\ttab\t@SUM(1)"
    )
    client = _client(world.manager_a)

    api = client.get("/api/v1/customers/", {"format": "csv"}).content.decode()
    assert "semi;'=1+1" in api and "'=HYPERLINK(1)" in api
    page = b"".join(
        client.get(reverse("ingest:import", kwargs={"job_id": job.pk}), {"format": "csv"}).streaming_content
    )
    for text in (api, page.decode()):
        _assert_no_formula_in_any_locale(text)


def test_authenticated_answers_are_not_cached_and_carry_a_csp(world):
    page = _client(world.manager_a).get(reverse("portal:jobs"))
    api = _token_client(world).get("/api/v1/customers/")
    login = Client().get(reverse("login"))
    for response in (page, api):
        assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    for response in (page, login):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_templates_have_no_inline_scripts_or_handlers():
    inline = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        inline += [f"{template.name}: <script> without src" for m in re.finditer(r"<script(?![^>]*\bsrc=)", text)]
        inline += [f"{template.name}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+=\"", text)]
    assert inline == []


def test_an_idle_session_ends(world, settings):
    settings.CARTPORTAL_SESSION_IDLE_SECONDS = 600
    client = _client(world.manager_a)
    assert client.get(reverse("portal:jobs")).status_code == 200
    session = client.session
    session[IdleTimeoutMiddleware.KEY] = int(time.time()) - 601
    session.save()

    after = client.get(reverse("portal:jobs"))
    assert after.status_code == 302 and "/accounts/login/" in after["Location"]
    assert client.get("/api/v1/customers/").status_code in (401, 403)


def test_consent_cannot_be_changed_on_an_erased_customer(world):
    customer = CustomerFactory(region=world.region_a, consent_marketing=True)
    customer_erase(actor=SystemActor("command:erase_customer"), customer=customer)
    before = AuditEvent.objects.filter(action="customer.consent_changed").count()
    client = _token_client(world)

    one = client.post(f"/api/v1/customers/{customer.pk}/consent/", {"consent_marketing": True}, "application/json")
    bulk = client.post(
        "/api/v1/customers/bulk-consent/", {"ids": [customer.pk], "consent_marketing": True}, "application/json"
    )
    for response in (one, bulk):
        assert response.status_code == 409 and "erased" in response.json()["error"]["message"]
    assert Customer.objects.get(pk=customer.pk).consent_marketing is False
    assert AuditEvent.objects.filter(action="customer.consent_changed").count() == before
