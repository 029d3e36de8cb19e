"""What a manager sees in a real browser: the home page's "what needs me today", the analysis filters kept in the
address across a reload and in the export link, and turning e-mail notifications on. No console errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from cartportal import access
from cartportal.audit import actor_label
from tests.factories import OrderFactory, OrderLineFactory, ProductFactory, UserFactory
from tests.portal.test_journeys import CHROMIUM, chromium, tab  # noqa: F401  (the shared browser fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"),
]


@pytest.fixture
def shop(chromium, transactional_db, world):  # noqa: F811
    from interventions.models import Campaign

    deputy = UserFactory(username="deputy_north", roles=[access.REGIONAL_MANAGER])
    access.grant_region(deputy, world.region_a, access.REGIONAL_MANAGER)
    Campaign.objects.create(
        region=world.region_a,
        name="North spring reminder",
        intervention="reminder",
        state="pending",
        created_by=actor_label(deputy),
    )
    Campaign.objects.create(
        region=world.region_b,
        name="South summer reminder",
        intervention="reminder",
        state="pending",
        created_by=actor_label(world.manager_b),
    )
    home, garden = ProductFactory(category="home"), ProductFactory(category="garden")
    when = dt.datetime(2024, 5, 10, tzinfo=dt.UTC)
    for i in range(6):
        order = OrderFactory(customer__region=world.region_a, region=world.region_a, placed_at=when, total=Decimal(10))
        OrderLineFactory(order=order, product=home if i < 4 else garden)
    world.manager_a.email = "north@example.test"
    world.manager_a.save()
    return world


def test_manager_starts_the_day_on_their_home_page(shop, tab):  # noqa: F811
    t = tab()
    t.login(shop.manager_a.username)
    assert t.page.locator("h1").inner_text() == "What needs you today"
    approvals = t.page.locator("section[aria-labelledby=h-approvals]")
    assert "North spring reminder" in approvals.inner_text()
    assert "South summer reminder" not in t.page.content()
    with t.page.expect_navigation():
        approvals.get_by_role("link", name="North spring reminder").click()
    assert "/interventions/campaigns/" in t.page.url
    assert t.errors == []


def test_filters_survive_a_reload_and_reach_the_export(shop, tab):  # noqa: F811
    t = tab()
    t.login(shop.manager_a.username)
    t.go(reverse("portal:insights"))
    assert "Categories (6 orders)" in t.page.content()
    with t.page.expect_navigation():
        t.page.select_option("#filter-category", "garden")
    assert "category=garden" in t.page.url
    assert "Categories (2 orders)" in t.page.content()
    t.page.reload()
    t.page.wait_for_load_state("load")
    assert t.page.locator("#filter-category").input_value() == "garden"
    assert "Categories (2 orders)" in t.page.content()
    export = t.page.locator("form.filters a.export").get_attribute("href")
    assert "category=garden" in export and "format=csv" in export
    t.page.fill("#filter-from", "2024-06-01")
    with t.page.expect_navigation():
        t.page.click("form.filters button[type=submit]")
    assert "from=2024-06-01" in t.page.url and "category=garden" in t.page.url
    assert "No orders with categorised products in the regions shown yet." in t.page.content()
    assert t.errors == []


def test_manager_turns_on_e_mail_notifications(shop, tab):  # noqa: F811
    from cartportal.models import UserPreference

    t = tab()
    t.login(shop.manager_a.username)
    assert "E-mail notifications: off" in t.page.content()
    with t.page.expect_navigation():
        t.page.click("text=E-mail notifications: off")
    t.page.check("#id_email_notifications")
    with t.page.expect_navigation():
        t.page.click("main form button[type=submit]")
    assert "E-mail notifications are on." in t.page.content()
    assert UserPreference.objects.get(user=shop.manager_a).email_notifications is True
    t.go(reverse("portal:home"))
    assert "E-mail notifications: on" in t.page.content()
    assert t.errors == []


def test_new_pages_fit_a_phone_and_label_every_field(shop, tab):  # noqa: F811
    t = tab()
    t.login(shop.manager_a.username)
    t.page.set_viewport_size({"width": 390, "height": 844})
    for path in (reverse("portal:home"), reverse("portal:insights") + "?category=home", reverse("portal:preferences")):
        t.go(path)
        width = t.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        unlabelled = t.page.evaluate(
            """() => [...document.querySelectorAll('main input, main select')]
                .filter(e => e.type !== 'hidden' && !(e.id && document.querySelector(`label[for="${e.id}"]`)))
                .map(e => e.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
        assert t.page.locator("main h1").count() == 1, path
    assert t.errors == []
