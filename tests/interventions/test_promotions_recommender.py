"""Weekly promotions ranked with the recommender, on the time-based holdout of the real Online Retail export:
the three offers hold a category of the buyer's next order more often than the region's three best-sellers, by a
margin whose 95 % bootstrap interval stays above zero."""

import datetime as dt

import pytest
from django.test import override_settings

from cartportal.access import SystemActor
from interventions.models import PromotionOffer
from interventions.promotions.services import promotions_generate
from tests.datasets import import_online_retail

pytestmark = pytest.mark.django_db


# two-week windows: the export covers eight weeks (2010-12-01 .. 2011-01-25), so the model trains on the window
# ending 2011-01-11 and is checked on the last two weeks
@override_settings(CARTPORTAL_PROMOTION_WINDOW_DAYS=14)
def test_offers_ranked_with_the_recommender_beat_the_best_sellers(data_dir, world):
    import_online_retail(data_dir / "online_retail_first70050rows.csv")
    counts = promotions_generate(actor=SystemActor("test:promotions"), week=dt.date(2026, 11, 16))
    assert counts["next_purchase_buyers"] >= 150
    margin = counts["next_purchase_hit_rate"] - counts["best_sellers_next_purchase_hit_rate"]
    assert counts["next_purchase_margin"] == pytest.approx(margin, abs=1e-3)
    assert counts["next_purchase_margin_low"] > 0, counts  # the margin is larger than its interval's half-width
    assert counts["next_purchase_margin_low"] < counts["next_purchase_margin"] < counts["next_purchase_margin_high"]
    assert PromotionOffer.objects.filter(week_start=dt.date(2026, 11, 16)).count() == counts["offers"] > 0
