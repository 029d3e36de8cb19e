"""The recommender on the real Online Retail export, without the database: what it recommends, why, what it
leaves out, products bought together, and that its settings never depend on the evaluated period."""

import numpy as np
import pandas as pd
import pytest

from predictions.recommend import evaluate as ev
from predictions.recommend import interactions as ia
from predictions.recommend.model import Params
from predictions.recommend.together import Thresholds
from predictions.recommend.train import fit

CUTOFF = pd.Timestamp("2011-01-04")


@pytest.fixture(scope="module")
def purchases():
    import os
    from pathlib import Path

    folder = Path(os.environ.get("CARTPORTAL_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
    path = folder / "online_retail_first70050rows.csv"
    if not path.exists():
        pytest.skip("real data sets not available: set CARTPORTAL_DATA_DIR")
    columns = ia.InteractionColumns("CustomerID", "StockCode", "InvoiceDate", "InvoiceNo", "Quantity")
    return ia.read_file(path, columns)


@pytest.fixture(scope="module")
def model(purchases):
    return fit(purchases, CUTOFF, Params(), baskets=True)


def test_cancellations_and_returns_are_not_purchases(purchases):
    assert not purchases["invoice"].str.upper().str.startswith("C").any()
    assert (purchases["quantity"] > 0).all()


def test_recommendations_leave_out_bought_items_except_repeat_items(model, purchases):
    before = purchases[purchases["at"] < CUTOFF]
    customer = before.groupby("customer_id")["item"].nunique().idxmax()
    owned = set(before.loc[before["customer_id"] == customer, "item"])
    recs = model.recommend(customer, 20)
    assert len(recs) == 20 and all(r.source == "history" for r in recs)
    for r in recs:
        if r.item in owned:
            assert model.repeat_items[model.item_index[r.item]]
    strict = model.recommend(customer, 20, keep_repeats=False)
    assert not {r.item for r in strict} & owned


def test_reason_counts_the_customers_who_bought_both(model, purchases):
    before = purchases[purchases["at"] < CUTOFF]
    customer = before["customer_id"].value_counts().index[3]
    rec = model.recommend(customer, 1, keep_repeats=False)[0]
    assert rec.reason.startswith("bought with ")
    count = int(rec.reason.rsplit(" by ", 1)[1].split()[0])
    buyers = before.groupby("item")["customer_id"].agg(set)
    owned = set(before.loc[before["customer_id"] == customer, "item"])
    best = max(len(buyers[item] & buyers[rec.item]) for item in owned)
    assert count == best > 0


def test_unknown_customer_gets_the_best_sellers(model, purchases):
    recs = model.recommend("no-such-customer", 3)
    before = purchases[purchases["at"] < CUTOFF]
    top = before.drop_duplicates(["customer_id", "item"])["item"].value_counts()
    assert [r.item for r in recs] == list(top.index[:3])
    assert recs[0].reason == f"popular: bought by {top.iloc[0]} customers"


def test_bought_together_support_confidence_lift_match_a_direct_count(model, purchases):
    before = purchases[purchases["at"] < CUTOFF]
    baskets = before.groupby("invoice")["item"].agg(set)
    item = before["item"].value_counts().index[0]
    rules = model.bought_together([item], n=5, thresholds=Thresholds(min_baskets=5, min_confidence=0.05, min_lift=1.5))
    assert rules
    lifts = [r.lift for r in rules]
    assert lifts == sorted(lifts, reverse=True)
    for rule in rules:
        both = sum(1 for b in baskets if item in b and rule.companion in b)
        with_item = sum(1 for b in baskets if item in b)
        with_companion = sum(1 for b in baskets if rule.companion in b)
        assert rule.baskets == both >= 5
        assert rule.support == pytest.approx(both / len(baskets))
        assert rule.confidence == pytest.approx(both / with_item)
        assert rule.lift == pytest.approx((both / with_item) / (with_companion / len(baskets)))
    stricter = model.bought_together([item], n=50, thresholds=Thresholds(min_baskets=20, min_lift=1.5))
    assert all(r.baskets >= 20 for r in stricter) and len(stricter) < 50


def test_settings_do_not_depend_on_the_evaluated_period(purchases, monkeypatch):
    """Scrambling every purchase after the cut-off changes the evaluated figures but nothing that was chosen."""
    monkeypatch.setattr(ev, "DEFAULT_STAGES", [{"neighbours": [20, 50]}, {"weight_factors": [0.0, 1.0]}])
    monkeypatch.setattr(ev, "NEIGHBOUR_STAGES", [{"neighbours": [20, 50]}])
    after = purchases["at"] >= CUTOFF
    scrambled = purchases.copy()
    scrambled.loc[after, "item"] = np.random.default_rng(0).permutation(purchases.loc[after, "item"].to_numpy())
    first, second = ev.evaluate(purchases, CUTOFF, 10), ev.evaluate(scrambled, CUTOFF, 10)
    assert first["model"] == second["model"]
    assert first["baselines"]["item_item"]["params"] == second["baselines"]["item_item"]["params"]
    assert first["recall_at_k"] != second["recall_at_k"]
    assert all(cut < "2011-01-04" for cut in first["model"]["validation_cutoffs"])
