"""evaluate_recommendations on the real Online Retail export: the issue's acceptance split (fit before
2011-01-04, evaluate the new items of customers active on both sides), settings chosen before the cut-off."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

ARGS = [
    "--customer-col",
    "CustomerID",
    "--item-col",
    "StockCode",
    "--date-col",
    "InvoiceDate",
    "--invoice-col",
    "InvoiceNo",
    "--quantity-col",
    "Quantity",
]


def _run(path, *extra) -> tuple[list[str], dict]:
    out = StringIO()
    call_command("evaluate_recommendations", str(path), *ARGS, *extra, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return lines, json.loads(lines[-1])


def test_acceptance_split_beats_the_targets_and_the_popularity_baseline(data_dir):
    lines, result = _run(data_dir / "online_retail_first70050rows.csv", "--cutoff", "2011-01-04", "--k", "10")
    assert {"users", "recall_at_k", "ndcg_at_k", "model", "baselines"} <= set(result)
    assert result["users"] == 254
    assert result["recall_at_k"] >= 0.11 and result["ndcg_at_k"] >= 0.11
    popularity = result["baselines"]["popularity"]
    assert popularity["users"] == result["users"] and popularity["recall_at_k"] == pytest.approx(0.0538, abs=1e-3)
    assert result["recall_at_k"] > 1.8 * popularity["recall_at_k"]
    assert result["baselines"]["item_item"]["users"] == 254
    # chosen on validation cut-offs strictly inside the training period
    assert all(cut < "2011-01-04" for cut in result["model"]["validation_cutoffs"])
    assert any(line.startswith("model: recall@10") for line in lines[:-1])


def test_unknown_column_is_a_clear_error(data_dir):
    out = StringIO()
    with pytest.raises(CommandError, match="Customer_Id"):
        call_command(
            "evaluate_recommendations",
            str(data_dir / "online_retail_first70050rows.csv"),
            "--customer-col",
            "Customer_Id",
            "--item-col",
            "StockCode",
            "--date-col",
            "InvoiceDate",
            "--cutoff",
            "2011-01-04",
            stdout=out,
        )


@pytest.mark.parametrize(
    ("cutoff", "message"), [("2012-06-01", "no customer bought new items"), ("4 January", "--cutoff must be a date")]
)
def test_cutoff_outside_the_data_or_malformed_is_a_clear_error(data_dir, cutoff, message):
    with pytest.raises(CommandError, match=message):
        _run(data_dir / "online_retail_first70050rows.csv", "--cutoff", cutoff)
