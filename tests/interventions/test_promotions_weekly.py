"""Weekly promotions on the real Online Retail sample, through the product path (import -> orders in PostgreSQL
-> promotions_generate): three offers per consenting customer, none for opted-out ones, browsing-only customers
served from their cart categories, a re-run replaces the week, and a region's export holds only that region."""

import csv
import datetime as dt
import io
import re

import pytest
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cartportal import access
from cartportal.access import SystemActor
from cartportal.models import CartEvent, Customer, OrderLine, Product, Region
from interventions.models import PromotionOffer
from interventions.promotions.services import promotions_generate
from tests.datasets import import_online_retail
from tests.factories import OrderLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
WEEK = dt.date(2026, 11, 16)


def _browsers(region, category_prefix: str, n: int) -> list[Customer]:
    """Customers who only carted products of one stock-code family (no orders)."""
    products = list(Product.objects.filter(sku__startswith=category_prefix).order_by("sku")[:3])
    at = timezone.make_aware(dt.datetime(2011, 11, 25, 12))
    people = [Customer.objects.create(external_id=f"browser-{category_prefix}-{i}", region=region) for i in range(n)]
    CartEvent.objects.bulk_create(
        [
            CartEvent(customer=c, region=region, product=p, kind=CartEvent.Kind.ADD, occurred_at=at, unit_price=p.price)
            for c in people
            for p in products
        ]
    )
    return people


def _checks_rows(html: str) -> list[tuple[str, str]]:
    """(region, buyers) of the rows of the page's "How these offers were checked" table."""
    table = html[html.index("How these offers were checked") :]
    table = table[: table.index("</table>")]
    return re.findall(r"<tr><td>([^<]+)</td><td>(\d+)", table)


def _biggest_category(region_id: int) -> str:
    """The region's biggest category by spend in the history, read from the order lines (stock-code family)."""
    lines = OrderLine.objects.filter(region_id=region_id, order__customer__isnull=False, quantity__gt=0, amount__gt=0)
    spend: dict[str, float] = {}
    for sku, amount in lines.exclude(order__status__in=["cancelled", "returned"]).values_list("sku", "amount"):
        spend[f"code {sku[:3]}"] = spend.get(f"code {sku[:3]}", 0.0) + float(amount)
    return max(spend, key=spend.get)


def _active_consenting() -> set[int]:
    bought = OrderLine.objects.filter(quantity__gt=0, amount__gt=0).exclude(order__status="cancelled")
    buyers = set(bought.values_list("order__customer_id", flat=True))
    carted = set(CartEvent.objects.values_list("customer_id", flat=True))
    consenting = Customer.objects.filter(consent_marketing=True, consent_personalisation=True, erased_at__isnull=True)
    return (buyers | carted) & set(consenting.values_list("pk", flat=True))


def test_weekly_promotions_on_the_online_retail_sample(data_dir, world):
    import_online_retail(data_dir / "online_retail_sample40000.csv")
    uk = Customer.objects.values("region").annotate(n=Count("id")).order_by("-n").first()["region"]
    browsers = _browsers(Customer.objects.get(pk=Customer.objects.filter(region_id=uk).first().pk).region, "229", 4)
    buyers = list(Customer.objects.filter(region_id=uk, orders__isnull=False).distinct().order_by("pk"))
    no_marketing = buyers[:20]
    no_personalisation = buyers[20:40]
    Customer.objects.filter(pk__in=[c.pk for c in no_marketing]).update(consent_marketing=False)
    Customer.objects.filter(pk__in=[c.pk for c in no_personalisation]).update(consent_personalisation=False)

    counts = promotions_generate(actor=SystemActor("test:promotions"), week=WEEK)

    expected = _active_consenting()
    per_customer = dict(
        PromotionOffer.objects.filter(week_start=WEEK).values_list("customer_id").annotate(n=Count("id"))
    )
    assert len(expected) > 3000 and set(per_customer) == expected
    assert set(per_customer.values()) == {3}
    assert counts["offers"] == 3 * len(expected) and counts["customers"] == len(expected)
    opted_out = [c.pk for c in no_marketing + no_personalisation]
    assert not PromotionOffer.objects.filter(customer_id__in=opted_out).exists()
    ranks = PromotionOffer.objects.values("customer_id").annotate(
        r=Count("rank", distinct=True), c=Count("category", distinct=True)
    )
    assert all(row["r"] == 3 and row["c"] == 3 for row in ranks)
    # the order within a customer's three comes from model.rank_score (see test_promotions_recommender.py)

    bases = dict(PromotionOffer.objects.values_list("base").annotate(n=Count("id")))
    assert bases["transaction_only"] > 0 and bases["browsing_only"] == 3 * len(browsers)

    # the gate: on this sample's holdout the learnt ranking's offers held the buyer's next category less often than
    # the region's three best-sellers (0.318 against 0.335 of 899 buyers), so the week's offers are the
    # best-sellers: every UK customer, buyer or browser, gets the same three categories, the UK's biggest by spend
    assert counts["next_purchase_hit_rate"] < counts["best_sellers_next_purchase_hit_rate"]
    assert counts["ranked_by"] == "best-sellers"
    uk_offers = PromotionOffer.objects.filter(week_start=WEEK, region_id=uk)
    assert uk_offers.values("category").distinct().count() == 3
    assert set(uk_offers.filter(rank=1).values_list("category", flat=True)) == {_biggest_category(uk)}
    assert set(PromotionOffer.objects.filter(customer__in=browsers).values_list("category", flat=True)) == set(
        uk_offers.values_list("category", flat=True)
    )

    # the time-based holdout is reported honestly: on this thin, sampled history the model has a lower absolute
    # error than the naive forecast and the training mean, a lower squared error than the naive forecast, and
    # picks a buyer's main category about as often as the region's three most bought categories do
    assert counts["holdout_buyers"] > 300
    assert counts["holdout_mae"] < min(counts["naive_mae"], counts["mean_mae"])
    assert counts["holdout_rmse"] < counts["naive_rmse"]
    assert counts["top3_hit_rate"] > 0.15 and counts["popularity_top3_hit_rate"] > 0.15

    first_ids = set(PromotionOffer.objects.values_list("pk", flat=True))
    again = promotions_generate(actor=SystemActor("test:promotions"), week=WEEK)
    assert again["replaced"] == counts["offers"] and again["offers"] == counts["offers"]
    assert PromotionOffer.objects.count() == counts["offers"]
    assert not (set(PromotionOffer.objects.values_list("pk", flat=True)) & first_ids)

    client = Client()
    client.force_login(world.executive)
    code = PromotionOffer.objects.filter(region_id=uk).values_list("region__code", flat=True).first()
    export = client.get(reverse("interventions:promotions"), {"region": code, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(rows) == PromotionOffer.objects.filter(region_id=uk).count() > 0
    assert {r["region"] for r in rows} == {code}
    api = client.get("/api/v1/promotions/", {"region": code})
    assert api.status_code == 200 and api.json()["count"] == len(rows)
    assert {r["region"] for r in api.json()["results"]} == {code}
    page = client.get(reverse("interventions:promotions"), {"region": code})
    assert page.status_code == 200 and "Fairness check" in page.content.decode()

    # how the offers were checked, per region: each region's buyers add up to the whole check's, and a region's
    # manager reads their own region's row only
    by_region = counts["by_region"]
    assert sum(r["next_purchase_buyers"] for r in by_region.values()) == counts["next_purchase_buyers"]
    assert _checks_rows(page.content.decode()) == [(code, str(by_region[str(uk)]["next_purchase_buyers"]))]
    assert "the learnt ranking did worse over the generation" in page.content.decode()
    manager = UserFactory(username="manager_of_the_uk", roles=[access.REGIONAL_MANAGER])
    access.grant_region(manager, Region.objects.get(pk=uk), access.REGIONAL_MANAGER)
    client.force_login(manager)
    assert _checks_rows(client.get(reverse("interventions:promotions")).content.decode()) == [
        (code, str(by_region[str(uk)]["next_purchase_buyers"]))
    ]


def test_browsing_after_the_latest_order_still_checks_on_the_last_window_of_orders(data_dir, world):
    """A shop whose clickstream runs on past its latest exported order (the demo shop, or an order export older than
    the sessions): the holdout window is the last one with orders, so offers are still written and checked."""
    import_online_retail(data_dir / "online_retail_sample40000.csv")
    last_order = OrderLine.objects.order_by("-order__placed_at").values_list("order__placed_at", flat=True).first()
    customer = Customer.objects.filter(orders__isnull=False).first()
    product = Product.objects.order_by("sku").first()
    CartEvent.objects.create(
        customer=customer,
        region=customer.region,
        product=product,
        kind=CartEvent.Kind.ADD,
        occurred_at=last_order + dt.timedelta(days=60),
        unit_price=product.price,
    )

    counts = promotions_generate(actor=SystemActor("test:promotions"), week=WEEK)

    assert counts["offers"] > 0 and counts["customers"] > 0
    assert PromotionOffer.objects.filter(week_start=WEEK).count() == counts["offers"]


def test_latest_orders_of_a_new_product_line_step_the_holdout_back_a_window(data_dir, world):
    """A shop whose only orders in the last window are of a product line nobody had bought before (the demo shop's
    campaign re-orders): that window checks nothing, so the holdout is the window before it, and offers are
    written (before, the week got none: "need purchases before and within the 28-day window after ...")."""
    import_online_retail(data_dir / "online_retail_sample40000.csv")
    last_order = OrderLine.objects.order_by("-order__placed_at").values_list("order__placed_at", flat=True).first()
    novelty = ProductFactory(sku="NEWLINE-1", name="New line", category="")
    for customer in Customer.objects.filter(orders__isnull=False).distinct().order_by("pk")[:15]:
        OrderLineFactory(order__customer=customer, order__placed_at=last_order + dt.timedelta(days=40), product=novelty)

    counts = promotions_generate(actor=SystemActor("test:promotions"), week=WEEK)

    assert counts["holdout_windows_back"] == 2
    assert counts["offers"] > 0 and counts["next_purchase_buyers"] > 100
    assert PromotionOffer.objects.filter(week_start=WEEK).count() == counts["offers"]
