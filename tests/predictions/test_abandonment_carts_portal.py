"""The cart abandonment model as a new user meets it after the demo: trained, promoted and rescored on the generated
shop, then walked through the Abandonment tab, a cart's page, the executive page and the live cart-scoring API."""

import re

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from cartportal import access
from cartportal.access import SystemActor
from cartportal.models import CartEvent, Region
from predictions.abandonment.services import abandonment_train
from predictions.demo import score_in_process
from predictions.models import Score
from tests.factories import UserFactory
from tests.predictions.cartshop import load_generated_shop

# every driver sentence names what in this cart (or of this customer) moves the risk: an item, a share, a count
CONCRETE = {
    "Price": r"(the .+ is \d+% dearer than its recent price"
    r"|no item is dearer than its recent price \(cart worth [\d.]+\))",
    "Shipping": r"(shipping is \d+% of the cart \([\d.]+\)|shipping is free|no shipping cost quoted yet)",
    "Reviews & trust": r"(\w+ of the items average [\d.]+ stars|the .+ averages [\d.]+ stars|the items average [\d.]+ "
    r"stars over|none of the items has a review yet)",
    "Browsing so far": r"\w+ items? in the cart after \w+ adds?",
    "Customer history": r"(a first-time buyer|a returning customer: \w+ earlier orders?, the last \d+ days ago)",
    "Context": r"at \d\d:00 on a \w+day",
}
SENTENCE = re.compile(r"^(?P<label>[^:]+): (?P<cause>.+) — (raises|lowers) the risk by [\d.]+ points\.$")


def _concrete(sentence: str) -> bool:
    found = SENTENCE.match(sentence)
    return bool(found) and re.search(CONCRETE[found["label"]], found["cause"], re.IGNORECASE) is not None


@pytest.fixture
def published(db):
    load_generated_shop()
    _model, version = abandonment_train(actor=SystemActor("task:retrain"), iterations=150)
    run = score_in_process(kind="abandonment")
    assert run.state == "published" and run.model_version_id == version.pk
    uk = Region.objects.get(code="UK")
    manager = UserFactory(username="manager_uk", roles=[access.REGIONAL_MANAGER])
    access.grant_region(manager, uk, access.REGIONAL_MANAGER)
    client = Client()
    client.force_login(manager)
    return run, uk, client


def test_at_risk_now_lists_open_carts_by_expected_loss_with_concrete_reasons(published):
    run, uk, client = published
    response = client.get(reverse("predictions:abandonment"))
    assert response.status_code == 200
    rows = response.context["risk"].rows
    assert len(rows) >= 10 and {r["region"] for r in rows} == {"UK"}
    for row in rows:  # open: items in, and no purchase after the latest change
        events = CartEvent.objects.filter(session_id=row["session_id"])
        assert not events.filter(kind="purchase").exists(), row
        assert events.filter(kind="add", product__isnull=False).exists() and row["cart_value"] > 0
    risks = np.array([r["probability"] for r in rows])
    assert risks.std() > 0.05 and (risks < 0.95).sum() >= len(rows) // 2  # spread, not all 100 %
    losses = [r["expected_loss"] for r in rows]
    assert losses == sorted(losses, reverse=True)
    assert all(r["expected_loss"] == pytest.approx(r["probability"] * r["cart_value"], abs=0.02) for r in rows)
    for row in rows:
        assert 1 <= len(row["reasons"]) <= 2 and all(_concrete(s) for s in row["reasons"]), row["reasons"]
        assert row["intervention"]
    page = response.content.decode()
    assert "At risk now" in page and rows[0]["reasons"][0].split(" — ")[0] in page
    assert "(no cart)" not in page and "checkout step" not in page
    # the friction charts read the same run: every listed region has a driver split with several drivers
    assert set(response.context["chart"]["byRegion"]) == {"uk"}
    assert sum(v > 0 for v in response.context["chart"]["byRegion"]["uk"].values()) >= 3

    cart = client.get(reverse("predictions:abandonment_session", args=[rows[0]["session_id"]]))
    assert cart.status_code == 200
    drivers = cart.context["drivers"]
    assert len(drivers) == 6 and all(_concrete(d["sentence"]) for d in drivers)
    assert cart.context["intervention"]["action"] or cart.context["intervention"]["reason"]

    export = client.get(reverse("predictions:abandonment") + "?format=csv")
    csv = b"".join(export.streaming_content).decode().splitlines()
    assert csv[0].startswith("cart_session,region") and len(csv) == len(rows) + 1


def test_stored_scores_and_executive_revenue_at_risk_are_the_same_open_carts(published):
    run, uk, _client = published
    scores = list(Score.objects.filter(run=run))
    assert scores and all(s.session_id and s.extra["expected_loss"] >= 0 for s in scores)
    assert len({s.customer_id for s in scores}) == len(scores)  # one (latest) open cart per customer
    executive = UserFactory(username="exec", roles=[access.EXECUTIVE])
    client = Client()
    client.force_login(executive)
    rollup = client.get(reverse("portal:executive")).context["rollup"]
    rows = {r["code"]: r for r in rollup["regions"]}
    expected = sum(s.extra["expected_loss"] for s in scores if s.region_id == uk.pk)
    assert rows["UK"]["revenue_at_risk"] == pytest.approx(expected, abs=0.05)


def test_live_cart_scoring_moves_with_price_and_shipping_and_reports_unknown_ids(published):
    _run, uk, client = published
    skus = list(
        CartEvent.objects.filter(region=uk, kind="add", product__category__in=["home", "toys", "books"])
        .values_list("product__sku", flat=True)
        .distinct()[:10]
    )
    assert len(skus) == 10
    from cartportal.models import Product

    prices = {p.sku: float(p.price) for p in Product.objects.filter(sku__in=skus)}
    base = {
        "region": "UK",
        "items": [{"product_id": sku, "price": prices[sku], "quantity": 1} for sku in skus],
        "shipping_cost": 0,
        "device": "desktop",
        "minutes_in_session": 10,
    }

    def score(body):
        response = client.post(reverse("api-cart-score"), data=body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    usual = score(base)
    dearer = score({**base, "items": [{**base["items"][0], "price": prices[skus[0]] * 1.4}, *base["items"][1:]]})
    costly_shipping = score({**base, "items": base["items"][:1], "shipping_cost": prices[skus[0]] * 0.6})
    cheap_shipping = score({**base, "items": base["items"][:1], "shipping_cost": 0})
    assert dearer["probability"] > usual["probability"]
    assert costly_shipping["probability"] > cheap_shipping["probability"]
    price = next(d for d in dearer["drivers"] if d["driver"] == "price")
    assert "40% dearer than its recent price" in price["cause"] or "dearer than its recent price" in price["cause"]
    shipping = next(d for d in costly_shipping["drivers"] if d["driver"] == "shipping")
    assert shipping["cause"].startswith("shipping is 60% of the cart")
    assert usual["unknown"] == {"products": [], "customer": None}
    assert usual["intervention"] is not None

    odd = score({**base, "items": [*base["items"][:2], {"product_id": "NOT-A-SKU", "price": 5}], "customer_id": "X"})
    assert odd["unknown"] == {"products": ["NOT-A-SKU"], "customer": "X"}
    bad = client.post(reverse("api-cart-score"), data={**base, "items": []}, content_type="application/json")
    assert bad.status_code == 400


def test_funnel_and_driver_charts_read_the_published_run_and_a_later_cart_joins_with_the_next_run(published):
    run, uk, client = published
    from django.utils import timezone

    from cartportal.models import Customer, Product, Session

    def funnel():
        page = client.get(reverse("predictions:abandonment"))
        assert page.status_code == 200
        return {s["step"]: s["sessions"] for s in page.context["funnel"]}, page

    before, page = funnel()
    # counted up to the run's cut-off: the sessions of the manager's region with an add before it
    added = (
        CartEvent.objects.filter(region=uk, kind="add", occurred_at__lt=run.as_of, session__is_bot=False)
        .values("session_id")
        .distinct()
        .count()
    )
    assert before["Added to cart"] == added > 0
    assert page.context["funnel_as_of"] == run.as_of
    assert f"Counted as of {run.as_of:%Y-%m-%d %H:%M}" in page.content.decode()
    assert page.context["risk"].source.startswith(f"open carts scored by run #{run.pk}")

    # a cart opened after the run: not in the funnel, the list or the charts until the next run scores it
    customer = Customer.objects.filter(region=uk, erased_at__isnull=True).order_by("pk").first()
    now = timezone.now()
    session = Session.objects.create(external_id="later-cart", region=uk, customer=customer, started_at=now)
    for n, product in enumerate(Product.objects.order_by("pk")[:3]):
        CartEvent.objects.create(
            session=session,
            customer=customer,
            region=uk,
            product=product,
            kind="add",
            unit_price=product.price or 10,
            occurred_at=now + timezone.timedelta(milliseconds=n),
        )
    after, page = funnel()
    assert after == before
    assert session.pk not in {r["session_id"] for r in page.context["risk"].rows}

    later = score_in_process(kind="abandonment")
    assert later.state == "published" and later.pk != run.pk
    rescored, page = funnel()
    assert rescored["Viewed"] == before["Viewed"] + 1 and rescored["Added to cart"] == before["Added to cart"] + 1
    assert page.context["funnel_as_of"] == later.as_of
    assert Score.objects.filter(run=later, session=session).exists()
    assert page.context["risk"].source.startswith(f"open carts scored by run #{later.pk}")


def test_the_abandonment_page_reads_the_published_run_in_a_bounded_number_of_queries(
    published, django_assert_max_num_queries
):
    """Once its figures are kept (at-risk list per run and scope, funnel and review friction as rollups), a visit costs
    a fixed handful of queries, whatever the number of carts: session and user, region filter, the latest run and
    the rollups' watermark."""
    run, uk, client = published
    assert client.get(reverse("predictions:abandonment")).status_code == 200  # computes and keeps
    with django_assert_max_num_queries(14) as captured:
        response = client.get(reverse("predictions:abandonment"))
    assert response.status_code == 200 and len(response.context["risk"].rows) >= 10
    reading_events = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].replace("(SELECT max(id) FROM cartportal_cartevent)", "").count("cartportal_cartevent")
    ]
    assert reading_events == []  # only the watermark's look-up of the newest event id
