"""Behavioural insights: figures checked against small hand-built shops, and against independent
pandas computations on the real survey and session files."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from cartportal.access import SystemActor
from cartportal.ingest.datasets import load_survey
from cartportal.portal.selectors import insights
from tests.factories import (
    CartEventFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _basket(region, *categories, customer=None, status="placed", placed_at=None):
    customer = customer or CustomerFactory(region=region)
    order = OrderFactory(
        customer=customer, region=region, status=status, placed_at=placed_at or dt.datetime(2024, 3, 5, tzinfo=UTC)
    )
    for cat in categories:
        OrderLineFactory(order=order, product=ProductFactory(category=cat), amount=Decimal("10.00"))
    return order


def test_category_affinity_counts_orders_and_lift(world):
    a = world.region_a
    for _ in range(3):
        _basket(a, "home", "garden")
    _basket(a, "home")
    _basket(a, "toys")
    _basket(a, "toys", "garden", status="cancelled")
    _basket(world.region_b, "home", "garden")
    result = insights.category_affinity(world.manager_a)
    assert result["orders"] == 5
    by_cat = {c["category"]: c for c in result["categories"]}
    assert by_cat["home"]["orders"] == 4 and by_cat["home"]["share"] == 0.8
    assert by_cat["garden"]["orders"] == 3 and by_cat["garden"]["revenue"] == 30.0
    assert result["pairs"] == [
        {"first": "garden", "second": "home", "together": 3, "support": 0.6, "confidence": 1.0, "lift": 1.25}
    ]
    assert insights.category_affinity(world.executive)["orders"] == 6


def test_price_sensitivity_by_discount_band(world):
    product = ProductFactory(price=Decimal("10.00"))
    region = world.region_a

    def cart(price, bought):
        session = SessionFactory(region=region)
        CartEventFactory(session=session, product=product, unit_price=Decimal(price))
        if bought:
            CartEventFactory(session=session, product=product, unit_price=Decimal(price), kind="purchase")

    cart("10.00", True)
    cart("10.00", False)
    cart("8.00", True)
    cart("5.00", True)
    cart("5.00", False)
    bands = {b["band"]: b for b in insights.price_sensitivity(world.manager_a)["discount"]}
    assert bands["list price"] == {"band": "list price", "adds": 2, "purchased": 1, "purchase_rate": 0.5}
    assert bands["10-25% off"]["purchase_rate"] == 1.0
    assert bands["over 25% off"]["purchase_rate"] == 0.5
    assert insights.price_sensitivity(world.manager_b)["discount"] == []


def test_browsing_depth_by_segment_leaves_bots_out(world):
    region = world.region_a
    SessionFactory(region=region, visitor_type="Returning_Visitor", product_pages=3, converted=False)
    SessionFactory(region=region, visitor_type="Returning_Visitor", product_pages=20, converted=True)
    SessionFactory(region=region, visitor_type="New_Visitor", product_pages=2, converted=False)
    SessionFactory(region=region, visitor_type="New_Visitor", product_pages=90, converted=True, is_bot=True)
    segments = {s["segment"]: s for s in insights.browsing_depth(world.manager_a)["segments"]}
    returning = segments["Returning_Visitor"]
    assert returning["sessions"] == 2 and returning["conversion_rate"] == 0.5
    assert returning["avg_product_pages"] == 11.5
    assert returning["depth"] == {"0-4": 0.0, "5-14": None, "15-39": 1.0, "40+": None}
    assert segments["New_Visitor"]["sessions"] == 1


def test_purchase_frequency_counts_returning_customers(world):
    region = world.region_a
    x, y = CustomerFactory(region=region), CustomerFactory(region=region)
    _basket(region, "home", customer=x, placed_at=dt.datetime(2024, 1, 10, tzinfo=UTC))
    _basket(region, "home", customer=x, placed_at=dt.datetime(2024, 2, 10, tzinfo=UTC))
    _basket(region, "home", customer=y, placed_at=dt.datetime(2024, 2, 11, tzinfo=UTC))
    result = insights.purchase_frequency(world.manager_a)
    assert [m["month"] for m in result["months"]] == ["2024-01", "2024-02"]
    feb = result["months"][1]
    assert (feb["orders"], feb["customers"], feb["returning"], feb["returning_share"]) == (2, 2, 1, 0.5)
    assert result["orders_per_customer"] == [{"orders": "1", "customers": 1}, {"orders": "2", "customers": 1}]


def _file_counts(series: pd.Series) -> dict[str, int]:
    return series.astype(str).str.split(";").explode().str.strip().loc[lambda s: s != ""].value_counts().to_dict()


def _loaded_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The file's rows less those the import quarantined (file line = row index + 2)."""
    from cartportal.models import QuarantinedRow

    lines = set(QuarantinedRow.objects.values_list("line", flat=True))
    return frame[[(i + 2) not in lines for i in range(len(frame))]]


def test_survey_on_the_real_file_matches_pandas(world, data_dir):
    path = data_dir / "amazon_customer_behavior_survey.csv"
    counts = load_survey(path, SystemActor("command:test"), region="NORTH")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert counts["loaded"] + counts["quarantined"] + counts["duplicates"] == len(frame), counts
    frame = frame.iloc[: counts["loaded"]] if counts["loaded"] == len(frame) else _loaded_rows(frame)
    summary = insights.survey_summary(world.manager_a)
    assert summary["respondents"] == len(frame)
    abandon_col = next(c for c in frame.columns if "abandon" in c.lower())
    assert {r["answer"]: r["count"] for r in summary["abandon_reasons"]} == _file_counts(frame[abandon_col])
    assert {g["gender"]: g["respondents"] for g in summary["genders"]} == frame[
        "Gender"
    ].str.strip().value_counts().to_dict()
    ages = pd.to_numeric(frame["age"])
    assert next(b for b in summary["age_bands"] if b["band"] == "25-34")["respondents"] == int(
        ages.between(25, 34).sum()
    )
    assert insights.survey_summary(world.manager_b)["respondents"] == 0


def test_browsing_depth_on_the_real_sessions_matches_pandas(world, data_dir):
    from cartportal.ingest.pipeline import ImportOptions
    from cartportal.ingest.services import import_run

    path = data_dir / "online_shoppers_intention.csv"
    import_run(actor=SystemActor("command:test"), source=path, options=ImportOptions(kind="sessions", region="NORTH"))
    frame = pd.read_csv(path)
    segments = {s["segment"]: s for s in insights.browsing_depth(world.executive)["segments"]}
    from cartportal.models import Session

    bots = set(Session.objects.filter(is_bot=True).values_list("external_id", flat=True))
    assert sum(s["sessions"] for s in segments.values()) == Session.objects.filter(is_bot=False).count()
    if not bots:
        for name, group in frame.groupby("VisitorType"):
            assert segments[name]["sessions"] == len(group)
            assert segments[name]["conversion_rate"] == round(group["Revenue"].mean(), 4)
    returning = segments["Returning_Visitor"]
    assert returning["conversion_rate"] < segments["New_Visitor"]["conversion_rate"]


def test_pairs_bought_together_less_than_chance_are_not_shown(world):
    a = world.region_a
    for _ in range(3):
        _basket(a, "home", "garden")
    for _ in range(3):
        _basket(a, "home", "toys")
    for _ in range(6):
        _basket(a, "home")
    for _ in range(2):
        _basket(a, "garden")
    # home is in 12 of 14 orders, garden in 5: together in 3, lift 3 * 14 / (12 * 5) = 0.7 (less than chance);
    # toys is only ever bought with home: lift 3 * 14 / (12 * 3) = 1.167.
    pairs = insights.category_affinity(world.manager_a)["pairs"]
    assert [(p["first"], p["second"], p["lift"]) for p in pairs] == [("home", "toys", 1.167)]
