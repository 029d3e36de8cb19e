import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from predictions.value.transactions import ColumnMap
from predictions.winback import features as wf
from predictions.winback import lines as wl

ONLINE_RETAIL = [
    "--customer-col=CustomerID",
    "--date-col=InvoiceDate",
    "--quantity-col=Quantity",
    "--price-col=UnitPrice",
    "--invoice-col=InvoiceNo",
]
KEYS = {"dormant", "base_rate", "top_rate", "lift", "revenue_top", "revenue_random", "model"}


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_ranking_beats_a_random_pick_on_the_online_retail_sample(data_dir, capsys):
    path = data_dir / "online_retail_sample40000.csv"
    call_command("evaluate_winback", str(path), *ONLINE_RETAIL, "--base-start=2011-04-01")
    result = _last_json(capsys)
    assert KEYS <= set(result)
    assert result["dormant"] == 663 and result["base_rate"] == pytest.approx(0.363, abs=0.001)
    assert result["lift"] >= 1.5
    assert result["revenue_top"] >= 1.5 * result["revenue_random"]
    assert result["top_rate"] == pytest.approx(result["lift"] * result["base_rate"], abs=0.01)
    # trained on the window one period earlier, whose target period ends where the evaluated one begins
    assert result["selection"]["training_window"]["target"] == ["2011-07-01", "2011-10-01"]


def test_features_do_not_see_anything_from_the_target_period(data_dir):
    columns = ColumnMap(customer="CustomerID", date="InvoiceDate", quantity="Quantity", price="UnitPrice")
    lines = wl.from_file(data_dir / "online_retail_sample40000.csv", columns)
    window = wf.Window(pd.Timestamp("2011-04-01"), 3)
    before = wf.window_features(lines, window)
    changed = lines.copy()
    later = changed["at"] >= window.target_start
    changed.loc[later, "amount"] *= 10
    changed.loc[later, "cancelled"] = ~changed.loc[later, "cancelled"]
    after = wf.window_features(changed, window)
    pd.testing.assert_frame_equal(before, after)
    # and every dormant customer bought in the base period and not in the dormant period
    bought = wf.purchases(lines)
    dormant_period = bought[(bought["at"] >= window.dormant_start) & (bought["at"] < window.target_start)]
    assert not set(before.index) & set(dormant_period["customer_id"])
    assert (before["spend_base"] > 0).all() and np.isfinite(before["days_since_last"]).all()


def test_bad_input_gets_a_clear_error(data_dir, tmp_path):
    path = data_dir / "online_retail_sample40000.csv"
    with pytest.raises(CommandError, match="'Kunde'.*not in the file"):
        call_command("evaluate_winback", str(path), "--customer-col=Kunde", "--base-start=2011-04-01")
    with pytest.raises(CommandError, match="--base-start must be a date"):
        call_command("evaluate_winback", str(path), *ONLINE_RETAIL, "--base-start=April")
    with pytest.raises(CommandError, match="no dormant customers in the window"):
        call_command("evaluate_winback", str(path), *ONLINE_RETAIL, "--base-start=2010-12-01")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("evaluate_winback", str(tmp_path / "missing.csv"), "--base-start=2011-04-01")


def test_another_shops_export_with_an_amount_column_and_day_first_dates(tmp_path, capsys):
    rng = np.random.default_rng(4)
    habit = rng.uniform(0.03, 0.5, 500)
    rows = []
    for month in range(15):
        for i in np.flatnonzero(rng.random(500) < habit):
            day = pd.Timestamp("2023-01-01") + pd.DateOffset(months=month) + pd.Timedelta(days=int(rng.integers(28)))
            rows.append({"Kunde": f"K{i}", "Datum": day.strftime("%d.%m.%Y"), "Betrag": f"{rng.lognormal(3, 1):.2f}"})
    path = tmp_path / "bestellungen.csv"
    pd.DataFrame(rows).to_csv(path, sep=";", index=False)
    call_command(
        "evaluate_winback",
        str(path),
        "--customer-col=Kunde",
        "--date-col=Datum",
        "--amount-col=Betrag",
        "--date-format=%d.%m.%Y",
        "--base-start=2023-07-01",
        "--months=2",
        "--top=0.3",
    )
    result = _last_json(capsys)
    assert KEYS <= set(result) and result["dormant"] > 50
    assert result["window"] == {
        "base": ["2023-07-01", "2023-09-01"],
        "dormant": ["2023-09-01", "2023-11-01"],
        "target": ["2023-11-01", "2024-01-01"],
    }
    assert result["top"] == round(result["dormant"] * 0.3)
    assert 0 <= result["base_rate"] <= 1 and 0 <= result["top_rate"] <= 1
