"""Every file of the public data folder loads, and every row is accounted for."""

import pandas as pd
import pytest

from cartportal.access import SystemActor
from cartportal.ingest.datasets import load_folder
from cartportal.models import Region, Review, Session, SurveyResponse

KEYS = ("loaded", "cancellations", "quarantined", "duplicates")


@pytest.mark.django_db
def test_every_data_set_loads_and_adds_up(data_dir):
    results = load_folder(data_dir, SystemActor("command:test"))
    expected_files = (
        {p.name for p in data_dir.glob("*.csv")}
        | {p.name for p in data_dir.glob("*.txt")}
        | {p.name for p in (data_dir / "olist_subset").glob("*.csv")}
    )
    missing = expected_files - set(results) - {"hillstrom.csv"}  # the interventions app loads Hillstrom
    assert not missing, f"not loaded: {missing}"
    for name, counts in results.items():
        assert counts["read"] == sum(counts[k] for k in KEYS), name
        assert counts["read"] > 0, name

    shoppers = pd.read_csv(data_dir / "online_shoppers_intention.csv")
    assert results["online_shoppers_intention.csv"]["loaded"] == len(shoppers)
    assert Session.objects.count() == len(shoppers)
    assert Session.objects.filter(converted=True).count() == int(shoppers["Revenue"].sum())
    assert set(Region.objects.filter(code__startswith="OSI-").values_list("code", flat=True)) == {
        f"OSI-{n}" for n in shoppers["Region"].unique()
    }
    for n in (1, 4, 9):
        assert Session.objects.filter(region__code=f"OSI-{n}").count() == int((shoppers["Region"] == n).sum())

    sentences = pd.read_csv(data_dir / "amazon_cells_labelled.txt", sep="\t", header=None, quoting=3)
    counts = results["amazon_cells_labelled.txt"]
    assert counts["quarantined"] == 0
    assert counts["loaded"] == len(sentences.drop_duplicates())
    assert Review.objects.filter(sentiment_label=1).count() == int(sentences.drop_duplicates()[1].sum())

    survey = pd.read_csv(data_dir / "amazon_customer_behavior_survey.csv")
    assert SurveyResponse.objects.count() == int((survey["age"] >= 10).sum())
    answer = SurveyResponse.objects.order_by("id").first().answers
    assert "Cart_Abandonment_Factors" in answer
    assert results["amazon_customer_behavior_survey.csv"]["quarantined"] == int((survey["age"] < 10).sum())
