"""RFM scores, named RFM segments, value groups and dormancy on the real Online Retail sample, computed through
the product path (import -> orders in PostgreSQL -> segments_rebuild) and checked against an independent pandas
computation straight from the CSV. Only the customer -> region mapping is read back from the database (the
import decides a customer's region; a handful of customers ordered from more than one country)."""

import numpy as np
import pandas as pd
import pytest
from django.test import override_settings

from cartportal.models import Customer
from segments.models import CustomerProfile
from segments.rfm import rfm_name
from segments.services import segments_rebuild
from tests.datasets import import_online_retail

FILE = "online_retail_sample40000.csv"


def expected_profiles(path, regions: dict[str, int], by_region: bool, quantile=0.5, frequent=2, dormant_days=90):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame[frame["CustomerID"].str.strip() != ""].drop_duplicates()
    frame["qty"] = frame["Quantity"].astype(int)
    frame["amount"] = (frame["qty"] * frame["UnitPrice"].astype(float)).round(2)
    frame["when"] = pd.to_datetime(frame["InvoiceDate"], utc=True)
    frame["customer"] = frame["CustomerID"].str.strip()
    invoices = frame.groupby("InvoiceNo").agg(
        customer=("customer", "first"), when=("when", "first"), total=("amount", "sum")
    )
    invoices["total"] = invoices["total"].round(2)
    invoices["cancelled"] = invoices.index.str.upper().str.startswith("C")
    reference = frame["when"].max()
    standing = invoices[~invoices["cancelled"]]
    per = standing.groupby("customer").agg(frequency=("total", "size"), last=("when", "max"), spent=("total", "sum"))
    refunds = invoices[invoices["cancelled"] & (invoices["total"] < 0)].groupby("customer")["total"].sum()
    per["monetary"] = (per["spent"] + refunds.reindex(per.index).fillna(0)).round(2)
    per["recency"] = np.floor((reference - per["last"]).dt.total_seconds() / 86400).astype(int)
    per["part"] = per.index.map(regions) if by_region else 0
    groups = per.groupby("part")
    n = groups["recency"].transform("size")

    def score(column, ascending):
        rank = groups[column].rank(method="min", ascending=ascending)
        return (1 + np.floor(5 * (rank - 1) / n)).astype(int)

    per["r"], per["f"], per["m"] = score("recency", False), score("frequency", True), score("monetary", True)
    per["rfm"] = [rfm_name(r, f) for r, f in zip(per["r"], per["f"], strict=True)]
    high = per["monetary"] > groups["monetary"].transform(lambda s: s.quantile(quantile))
    freq = per["frequency"] >= frequent
    per["value_group"] = np.select([high & freq, freq, high], ["loyal", "regular", "big_fish"], "one_time")
    per["dormant"] = per["last"] < reference - pd.Timedelta(days=dormant_days)
    return per


def product_profiles() -> pd.DataFrame:
    rows = CustomerProfile.objects.exclude(value_group="").values(
        "customer__external_id", "r_score", "f_score", "m_score", "rfm_segment", "value_group", "dormant", "monetary"
    )
    return pd.DataFrame(list(rows)).set_index("customer__external_id")


def counts(series: pd.Series) -> dict:
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


@pytest.mark.django_db
def test_value_groups_and_rfm_match_independent_computation(data_dir):
    path = data_dir / FILE
    import_online_retail(path)
    regions = dict(Customer.objects.values_list("external_id", "region_id"))

    for by_region in (True, False):
        with override_settings(CARTPORTAL_SEGMENT_THRESHOLDS_BY_REGION=by_region):
            result = segments_rebuild(actor="command:test", personas=False)
        expected = expected_profiles(path, regions, by_region)
        mine = product_profiles()
        assert len(mine) == len(expected) > 3000
        assert result.customers == Customer.objects.count()
        for column, theirs in [
            ("value_group", "value_group"),
            ("rfm_segment", "rfm"),
            ("r_score", "r"),
            ("f_score", "f"),
            ("m_score", "m"),
            ("dormant", "dormant"),
        ]:
            assert counts(mine[column]) == counts(expected[theirs]), column
        pair = mine["value_group"] + "/" + mine["dormant"].astype(str)
        assert counts(pair) == counts(expected["value_group"] + "/" + expected["dormant"].astype(str))
        # per customer, not only in total
        assert set(mine.index) == set(expected.index)
        assert (mine["value_group"].sort_index() == expected["value_group"].sort_index()).all()
        assert (mine["rfm_segment"].sort_index() == expected["rfm"].sort_index()).all()
        assert np.allclose(mine["monetary"].astype(float).sort_index(), expected["monetary"].sort_index())
    # the dormant Big Fish are a non-empty target list on this data
    assert CustomerProfile.objects.filter(value_group="big_fish", dormant=True).exists()
