"""evaluate_promotions on the real Online Retail export: the weekly promotions' ranking (the portal's own code path),
ranked as of the cut-off from what happened before it, against each country's three best-sellers on the same
buyers of the two weeks after it; and clear errors for bad input."""

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
    "--price-col",
    "UnitPrice",
    "--region-col",
    "Country",
]


def _run(path, *extra) -> tuple[list[str], dict]:
    out = StringIO()
    call_command("evaluate_promotions", str(path), *ARGS, *extra, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return lines, json.loads(lines[-1])


def test_offers_beat_the_region_best_sellers_on_the_later_holdout(data_dir):
    # the export's last two weeks are the holdout; the ranker learns on the three two-week windows before them
    lines, result = _run(data_dir / "online_retail_first70050rows.csv", "--cutoff", "2011-01-11", "--window-days", "14")
    assert result["users"] >= 150 and result["regions"] > 10
    assert result["ranker"] == "learnt on the windows before"
    assert result["margin"] == pytest.approx(result["hit_rate"] - result["best_sellers_hit_rate"], abs=1e-3)
    assert result["margin_low"] > 0, result  # the margin is larger than its paired bootstrap interval's half-width
    assert result["margin_low"] < result["margin"] < result["margin_high"]
    assert lines[-2].startswith("offers: ")


def test_bad_input_is_a_clear_error(data_dir, tmp_path):
    path = data_dir / "online_retail_first70050rows.csv"
    with pytest.raises(CommandError, match="Region_Name"):
        call_command("evaluate_promotions", str(path), *ARGS[:-1], "Region_Name", "--cutoff", "2011-01-11")
    with pytest.raises(CommandError, match="--cutoff must be a date"):
        call_command("evaluate_promotions", str(path), *ARGS, "--cutoff", "11/01/2011")
    with pytest.raises(CommandError, match="need purchases before and within"):
        call_command("evaluate_promotions", str(path), *ARGS, "--cutoff", "2012-06-01", "--window-days", "14")
    empty = tmp_path / "returns.csv"
    empty.write_text(
        "CustomerID,StockCode,InvoiceDate,InvoiceNo,Quantity,UnitPrice,Country\n1,A,2011-01-01,C1,-1,2,UK\n"
    )
    with pytest.raises(CommandError, match="no usable purchases"):
        call_command("evaluate_promotions", str(empty), *ARGS, "--cutoff", "2011-01-11")
