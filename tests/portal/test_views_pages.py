"""Page furniture: empty states, a tooltip for every chart, error pages, and bad query input."""

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse

from cartportal.pages import errors as views

pytestmark = pytest.mark.django_db


def test_insights_without_data_says_what_to_load(client, world):
    client.force_login(world.manager_a)
    body = client.get(reverse("portal:insights")).content.decode()
    assert "No orders with categorised products in the regions shown yet." in body
    assert "Import sessions on the Data tab." in body
    assert "Load a customer survey" in body
    assert "<canvas" not in body


def test_every_chart_has_an_interpretation(client, world):

    client.force_login(world.executive)
    from tests.factories import OrderFactory, OrderLineFactory, ProductFactory, SessionFactory

    order = OrderFactory(customer__region=world.region_a, region=world.region_a)
    OrderLineFactory(order=order, product=ProductFactory(category="home"))
    SessionFactory(region=world.region_a, converted=True)
    for name in ("portal:insights", "portal:executive"):
        body = client.get(reverse(name)).content.decode()
        canvases = re.findall(r'<canvas id="([^"]+)"', body)
        assert canvases, name
        for chart in canvases:
            assert re.search(rf'role="tooltip" id="{chart}-tip" class="tip-text">[^<]{{40,}}<', body), chart


def test_unknown_region_and_page_are_not_errors(client, world):
    client.force_login(world.manager_a)
    assert client.get(reverse("portal:insights"), {"region": "NOPE", "page": "x"}).status_code == 200
    assert client.get(reverse("portal:executive"), {"page": "999"}).status_code == 403
    client.force_login(world.executive)
    assert client.get(reverse("portal:executive"), {"page": "999", "region": "<script>"}).status_code == 200


def test_error_pages_explain_and_link_back(world):
    request = RequestFactory().get("/x")
    request.user = world.manager_a
    for view, status, text in (
        (views.not_found, 404, "not in your regions"),
        (views.forbidden, 403, "Your role does not give access"),
        (views.bad_request, 400, "could not be understood"),
    ):
        response = view(request, Exception())
        assert response.status_code == status and text in response.content.decode()
    response = views.server_error(request)
    assert response.status_code == 500 and "The error was logged" in response.content.decode()


def test_navigation_is_keyboard_friendly(client, world):
    client.force_login(world.manager_a)
    body = client.get(reverse("portal:home")).content.decode()
    assert body.index('class="skip" href="#main"') < body.index("<nav")
    assert 'aria-current="page"' in body and '<main id="main" tabindex="-1">' in body
