import json

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from tests.factories import CustomerFactory, OrderFactory, RegionFactory


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_forecast_from_a_real_transaction_file_meets_the_holdout_targets(data_dir, tmp_path, capsys):
    out = tmp_path / "value.csv"
    call_command(
        "forecast_value",
        "--cutoff=2011-06-01",
        "--horizon-days=90",
        f"--out={out}",
        f"--file={data_dir / 'online_retail_sample40000.csv'}",
    )
    result = _last_json(capsys)
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert list(table.columns) == ["customer_id", "p_active", "expected_purchases", "expected_spend"]
    assert table["customer_id"].is_unique and len(table) == result["customers"]
    assert table["p_active"].between(0, 1).all() and (table["expected_spend"] >= 0).all()
    assert result["model"] in {"bgnbd_gamma_gamma", "window_gbm"}
    assert result["top_decile_lift"] >= 3.0
    assert abs(result["predicted_purchases"] / result["actual_purchases"] - 1) <= 0.05
    assert 0.1 < result["revenue_captured_top_decile"] <= 1


def test_column_mapping_options_and_cancellations(tmp_path, capsys):
    rows = []
    for customer in range(60):
        for k in range(1 + customer % 4):
            rows.append(
                {
                    "Client": f"K{customer}",
                    "When": f"{1 + (customer + 7 * k) % 28:02d}/0{1 + k}/2024",
                    "Value": "12,50",
                    "Ref": "A1",
                }
            )
    rows.append({"Client": "K1", "When": "03/01/2024", "Value": "99", "Ref": "C9"})
    path = tmp_path / "shop.csv"
    pd.DataFrame(rows).to_csv(path, index=False, sep=";")
    out = tmp_path / "v.csv"
    call_command(
        "forecast_value",
        "--cutoff",
        "2024-06-01",
        "--horizon-days",
        "30",
        "--out",
        str(out),
        "--file",
        str(path),
        "--customer-col",
        "Client",
        "--date-col",
        "When",
        "--date-format",
        "%d/%m/%Y",
        "--amount-col",
        "Value",
        "--invoice-col",
        "Ref",
        "--model",
        "bgnbd_gamma_gamma",
    )
    result = _last_json(capsys)
    assert result["customers"] == 60 and result["holdout"] is None
    table = pd.read_csv(out)
    assert table["expected_spend"].gt(0).all()


def test_forecast_reads_orders_from_the_database(db, tmp_path, capsys):
    region = RegionFactory(code="UK")
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for n in range(40):
        customer = CustomerFactory(region=region, external_id=f"shop-{n}")
        for k in range(n % 5 + 1):
            OrderFactory(
                customer=customer, region=region, placed_at=start + pd.Timedelta(days=11 * k + n % 9), total=20
            )
    OrderFactory(
        customer=CustomerFactory(region=region, external_id="gone"), region=region, placed_at=start, status="cancelled"
    )
    out = tmp_path / "db.csv"
    call_command(
        "forecast_value",
        "--cutoff",
        "2024-03-01",
        "--horizon-days",
        "60",
        "--out",
        str(out),
        "--model",
        "bgnbd_gamma_gamma",
    )
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert set(table["customer_id"]) == {f"shop-{n}" for n in range(40)}
    assert _last_json(capsys)["holdout"] is None


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--cutoff", "someday"], "--cutoff must be a date"),
        (["--cutoff", "2011-01-01", "--customer-col", "Nope"], "column 'Nope'"),
        (["--cutoff", "1999-01-01"], "no purchases before the cut-off"),
    ],
)
def test_bad_input_is_a_clear_error(data_dir, tmp_path, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "forecast_value",
            "--horizon-days",
            "30",
            "--out",
            str(tmp_path / "x.csv"),
            "--file",
            str(data_dir / "online_retail_first70050rows.csv"),
            *arguments,
        )


def test_empty_database_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="import transactions first"):
        call_command("forecast_value", "--cutoff", "2024-01-01", "--out", str(tmp_path / "x.csv"))


def test_every_customer_who_bought_before_the_cutoff_gets_a_row(data_dir, tmp_path, capsys):
    source = data_dir / "online_retail_sample40000.csv"
    raw = pd.read_csv(source, dtype=str, encoding="utf-8-sig")
    when = pd.to_datetime(raw["InvoiceDate"], dayfirst=False, errors="coerce", format="mixed")
    amount = pd.to_numeric(raw["Quantity"]) * pd.to_numeric(raw["UnitPrice"])
    kept = (
        raw["CustomerID"].notna()
        & ~raw["InvoiceNo"].str.upper().str.startswith("C")
        & (amount >= 0)
        & (when < pd.Timestamp("2011-06-01"))
    )
    expected = set(raw.loc[kept, "CustomerID"].str.replace(r"\.0$", "", regex=True))
    out = tmp_path / "value.csv"
    call_command("forecast_value", "--cutoff=2011-06-01", "--horizon-days=90", f"--out={out}", f"--file={source}")
    table = pd.read_csv(out, dtype={"customer_id": str})
    assert set(table["customer_id"]) == expected and len(table) == len(expected) == _last_json(capsys)["customers"]


def test_zero_amount_purchases_count_for_frequency_and_recency():
    from predictions.value import transactions as tx

    frame = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "B", "C"],
            "at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-05", "2024-01-07"]),
            "amount": [10.0, 0.0, 0.0, 0.0, -5.0],
        }
    )
    summary = tx.rfm_summary(tx.clean(frame), pd.Timestamp("2024-04-01"))
    assert summary.loc["A", "frequency"] == 2 and summary.loc["A", "recency"] == 60
    assert "B" in summary.index and "C" not in summary.index


def test_window_model_trains_when_the_calibration_is_shorter_than_two_horizons(data_dir, tmp_path, capsys):
    out = tmp_path / "value.csv"
    call_command(
        "forecast_value",
        "--cutoff=2011-06-01",
        "--horizon-days=150",
        f"--out={out}",
        f"--file={data_dir / 'online_retail_sample40000.csv'}",
        "--model=window_gbm",
    )
    result = _last_json(capsys)
    assert result["model"] == "window_gbm"
    # 182 days of calibration cannot hold 60 days of history plus a 150-day window: shorter windows, stretched
    assert abs(result["predicted_purchases"] / result["actual_purchases"] - 1) < 0.35
    assert result["top_decile_lift"] > 2.5
