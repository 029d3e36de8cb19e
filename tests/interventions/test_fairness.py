"""The fairness check on constructed offers: it fires when a group's offer rate or discount depth is off the
overall figure by more than the tolerance, stays quiet within it, and ignores unknown or unconsented groups."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from interventions.fairness import campaign_fairness, promotion_fairness
from interventions.models import Assignment, Campaign, PromotionOffer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WEEK = dt.date(2026, 11, 16)


def _group(region, n: int, offered: int, *, age_band="", gender="", discount=0.1, consent=True) -> list:
    people = CustomerFactory.create_batch(
        n, region=region, age_band=age_band, gender=gender, consent_personalisation=consent
    )
    PromotionOffer.objects.bulk_create(
        PromotionOffer(
            customer=c,
            region=region,
            week_start=WEEK,
            rank=1,
            category="code 229",
            discount_rate=discount,
            relation="new",
            predicted_order_value=Decimal("12.50"),
            base="transaction_only",
        )
        for c in people[:offered]
    )
    return people


def _row(rows, attribute, group):
    return next(r for r in rows if r["attribute"] == attribute and r["group"] == group)


def test_flag_fires_beyond_the_tolerance_and_not_within(world):
    region = world.region_a
    _group(region, 100, 80, age_band="18-24")  # 0.80 against 0.60 overall: off by 0.20
    _group(region, 100, 40, age_band="55+")  # 0.40: off by 0.20
    _group(region, 80, 44, gender="f")  # 0.55 offered, like everyone: within 0.1
    _group(region, 20, 11, gender="m", discount=0.16)  # mean discount 0.16 against 0.112 overall: off by > 0.02
    _group(region, 300, 0, age_band="35-44", consent=False)  # not consented: not counted at all
    _group(region, 300, 300)  # band and gender unknown: not counted
    rows = promotion_fairness(world.manager_a, region_ids=[region.pk], week=WEEK)

    young, old = _row(rows, "age_band", "18-24"), _row(rows, "age_band", "55+")
    assert young["overall_offer_rate"] == 0.6 and young["offer_rate"] == 0.8 and young["flagged"]
    assert old["offer_rate"] == 0.4 and old["flagged"] and "offer rate" in old["reasons"][0]
    assert {r["group"] for r in rows if r["attribute"] == "age_band"} == {"18-24", "55+"}
    women, men = _row(rows, "gender", "f"), _row(rows, "gender", "m")
    assert women["offer_rate"] == men["offer_rate"] == 0.55 and not women["flagged"]
    assert men["overall_mean_discount"] == 0.112 and men["mean_discount"] == 0.16
    assert men["flagged"] and men["reasons"] == ["mean discount 0.160 vs 0.112 overall"]
    assert women["mean_discount"] == 0.1 and not any("mean discount" in r for r in women["reasons"])

    with override_settings(CARTPORTAL_FAIRNESS_TOLERANCE=0.25, CARTPORTAL_FAIRNESS_DISCOUNT_TOLERANCE=0.05):
        relaxed = promotion_fairness(world.manager_a, region_ids=[region.pk], week=WEEK)
    assert not any(r["flagged"] for r in relaxed)
    with override_settings(CARTPORTAL_FAIRNESS_MIN_GROUP=101):  # every group is smaller: shown, not judged
        small = promotion_fairness(world.manager_a, region_ids=[region.pk], week=WEEK)
    assert not any(r["flagged"] or r["judged"] for r in small)

    # region B's manager sees none of region A's customers
    assert promotion_fairness(world.manager_b, region_ids=None, week=WEEK) == []
    client = Client()
    client.force_login(world.manager_a)
    body = client.get(reverse("interventions:promotions")).content.decode()
    assert "Fairness check" in body and "Flagged" in body and "offer rate 0.40 vs 0.60 overall" in body


def test_campaign_page_shows_the_check_for_its_region(world):
    region = world.region_a
    campaign = Campaign.objects.create(
        region=region, name="Spring", intervention="bundle_offer", state=Campaign.State.RUNNING
    )
    at = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    for band, n, treated in (("18-24", 40, 36), ("55+", 40, 20)):
        for i, c in enumerate(CustomerFactory.create_batch(n, region=region, age_band=band)):
            Assignment.objects.create(
                campaign=campaign,
                customer=c,
                arm="treated" if i < treated else "holdout",
                holdout=i >= treated,
                assigned_at=at,
            )
    rows = campaign_fairness(world.manager_a, campaign)
    assert _row(rows, "age_band", "18-24")["offer_rate"] == 0.9 and _row(rows, "age_band", "18-24")["flagged"]
    assert _row(rows, "age_band", "55+")["offer_rate"] == 0.5 and _row(rows, "age_band", "55+")["flagged"]
    assert _row(rows, "age_band", "55+")["mean_discount"] == 0.1  # the bundle offer's stated discount
    client = Client()
    client.force_login(world.manager_a)
    body = client.get(reverse("interventions:campaign", kwargs={"pk": campaign.pk})).content.decode()
    assert "Fairness check" in body and "offer rate 0.50 vs 0.70 overall" in body
