"""Weekly promotions ranked by a classifier of the next order's categories (learnt on earlier windows from the
customer's history, the recommender and the price response), on the time-based holdout of the real Online Retail
export: the three offers hold a category of the buyer's next order more often than the region's three
best-sellers, by a margin whose 95 % paired bootstrap interval stays above zero."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from django.test import Client, override_settings
from django.urls import reverse

from cartportal.access import SystemActor
from interventions.models import PromotionOffer
from interventions.promotions.ranking import (
    DISCOUNT_BY_RELATION,
    bootstrap_interval,
    fit_ranker,
    next_order_labels,
    price_response,
    rank_score,
    top3,
)
from interventions.promotions.services import promotions_generate
from tests.datasets import import_online_retail

pytestmark = pytest.mark.django_db


# two-week windows: the export covers eight weeks (2010-12-01 .. 2011-01-25), so the ranker learns on the windows
# ending 2011-01-11 and is checked on the last two weeks
@override_settings(CARTPORTAL_PROMOTION_WINDOW_DAYS=14)
def test_offers_ranked_with_the_recommender_beat_the_best_sellers(data_dir, world):
    import_online_retail(data_dir / "online_retail_first70050rows.csv")
    counts = promotions_generate(actor=SystemActor("test:promotions"), week=dt.date(2026, 11, 16))
    figures = {k: v for k, v in counts.items() if k.startswith(("next_purchase", "best_sellers"))}
    print(f"weekly promotions, last 14 days of the export: {figures}")
    assert counts["next_purchase_buyers"] >= 150
    margin = counts["next_purchase_hit_rate"] - counts["best_sellers_next_purchase_hit_rate"]
    assert counts["next_purchase_margin"] == pytest.approx(margin, abs=1e-3)
    assert counts["next_purchase_margin_low"] > 0, counts  # the margin is larger than its interval's half-width
    assert counts["next_purchase_margin_low"] < counts["next_purchase_margin"] < counts["next_purchase_margin_high"]
    assert PromotionOffer.objects.filter(week_start=dt.date(2026, 11, 16)).count() == counts["offers"] > 0
    assert counts["ranked_by"] == "model"  # it did better than the best-sellers, so the offers use it

    # the promotions page says how the offers shown were checked (per region), and what ranked them
    client = Client()
    client.force_login(world.executive)
    page = client.get(reverse("interventions:promotions")).content.decode()
    assert "How these offers were checked" in page and "the learnt ranking" in page
    biggest = max(counts["by_region"].values(), key=lambda region: region["next_purchase_buyers"])
    assert f"{biggest['next_purchase_hit_rate']:.3f}" in page
    assert f"{biggest['best_sellers_next_purchase_hit_rate']:.3f}" in page


def _window(n_customers: int, next_category) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairs of a window (customer x four categories, each customer's own favourite varies, the region buys "d"
    most) and the first orders of that window, whose category `next_category(favourite)` chooses."""
    rows, orders = [], []
    at = pd.Timestamp("2011-01-05", tz="UTC")
    for c in range(n_customers):
        favourite = "abc"[c % 3]
        for category in "abcd":
            rows.append(
                {
                    "customer_id": c,
                    "category": category,
                    "affinity": 0.8 if category == favourite else 0.1 if category != "d" else 0.0,
                    "region_share": 0.7 if category == "d" else 0.1,
                    "relation": "bought" if category == favourite else "new",
                }
            )
        orders.append({"customer_id": c, "at": at, "category": next_category(favourite)})
    return pd.DataFrame(rows), pd.DataFrame(orders)


def test_the_ranker_learns_from_the_earlier_window_whose_signal_predicts_the_next_order():
    pairs, own = _window(90, lambda favourite: favourite)
    _, popular = _window(90, lambda favourite: "d")
    labelled = next_order_labels(pairs, own)
    assert len(labelled) == 360 and labelled["label"].sum() == 90
    for orders, expected in ((own, lambda c: "abc"[c % 3]), (popular, lambda c: "d")):
        ranker = fit_ranker(next_order_labels(pairs, orders))
        assert ranker is not None
        first = top3(pairs, rank_score(pairs, ranker)).drop_duplicates("customer_id")
        assert all(row.category == expected(row.customer_id) for row in first.itertuples())
    # too few buyers to learn from: the customer's own affinity plus the region's best-sellers
    assert fit_ranker(next_order_labels(pairs, own.head(5))) is None
    fallback = rank_score(pairs, None)
    assert fallback[:4] == pytest.approx([0.9, 0.2, 0.2, 0.7], abs=1e-5)
    assert list(top3(pairs, fallback).head(3)["category"]) == ["a", "d", "b"]


def test_price_response_is_the_expected_change_under_the_relation_discount():
    weeks = pd.date_range("2011-01-03", periods=12, freq="7D", tz="UTC")
    rng = np.random.default_rng(0)
    lines = []
    for p in range(4):
        for week in weeks:
            price = 2.0 * np.exp(rng.normal(0, 0.2))
            lines.append(
                {
                    "sku": f"22{p}",
                    "category": "code 22x",
                    "at": week,
                    "unit_price": price,
                    "quantity": round(100 * price**-2.0 * np.exp(rng.normal(0, 0.05))),
                }
            )
    purchases = pd.DataFrame(lines)
    pairs = pd.DataFrame({"category": ["code 22x", "code 22x", "elsewhere"], "relation": ["bought", "new", "new"]})
    response = price_response(purchases, pairs, weeks[-1] + pd.Timedelta(days=1))
    e = np.log(1 + response.iloc[0]) / np.log(1 - DISCOUNT_BY_RELATION["bought"])
    assert -2.4 < e < -1.6  # the generated elasticity is -2
    assert response.iloc[1] == pytest.approx((1 - DISCOUNT_BY_RELATION["new"]) ** e - 1, rel=1e-6)
    assert response.iloc[2] == 0.0  # no estimate for the category: no response assumed


def test_bootstrap_interval_covers_the_mean():
    values = np.array([1.0] * 30 + [0.0] * 70)
    low, high = bootstrap_interval(values)
    assert low < 0.3 < high and high - low == pytest.approx(2 * 1.96 * np.sqrt(0.21 / 100), rel=0.15)
