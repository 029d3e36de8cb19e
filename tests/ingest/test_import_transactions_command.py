"""import_transactions on the real Online Retail export: every row accounted for, numbers checked against an
independent pandas computation, and a re-import adds nothing."""

import json
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command

from cartportal.models import Order, OrderLine
from tests.datasets import import_online_retail as run


@pytest.mark.django_db
def test_online_retail_rows_all_accounted_for(data_dir):
    path = data_dir / "online_retail_first70050rows.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    with_customer = frame[frame["CustomerID"].str.strip() != ""]
    unique = with_customer.drop_duplicates()
    expected_cancel = int(unique["InvoiceNo"].str.upper().str.startswith("C").sum() | 0) + int(
        ((unique["Quantity"].astype(int) < 0) & ~unique["InvoiceNo"].str.upper().str.startswith("C")).sum()
    )

    result = run(path)
    assert result["read"] == len(frame) == 70_051
    assert result["read"] == result["loaded"] + result["cancellations"] + result["quarantined"] + result["duplicates"]
    assert result["quarantined"] == len(frame) - len(with_customer)
    assert result["by_code"]["missing_required"] == result["quarantined"]
    assert result["duplicates"] == len(with_customer) - len(unique)
    assert result["cancellations"] == expected_cancel
    assert result["loaded"] == len(unique) - expected_cancel
    assert OrderLine.objects.count() == len(unique)
    assert Order.objects.count() == unique["InvoiceNo"].nunique()
    assert (
        Order.objects.filter(status="cancelled").count()
        == unique.loc[unique["InvoiceNo"].str.upper().str.startswith("C"), "InvoiceNo"].nunique()
    )

    again = run(path)
    assert again["loaded"] == again["cancellations"] == 0
    assert again["duplicates"] == len(with_customer)
    assert OrderLine.objects.count() == len(unique)


@pytest.mark.django_db
def test_clear_errors_for_bad_options(tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "t.csv"
    path.write_text("cust;when;total\n1;01.02.2024;3,50\n")
    with pytest.raises(CommandError, match="not in the file"):
        call_command(
            "import_transactions",
            str(path),
            "--customer-col",
            "nope",
            "--date-col",
            "when",
            "--amount-col",
            "total",
            "--region",
            "X",
            stdout=StringIO(),
        )
    with pytest.raises(CommandError, match="exactly one of"):
        call_command(
            "import_transactions",
            str(path),
            "--customer-col",
            "cust",
            "--date-col",
            "when",
            "--amount-col",
            "total",
            stdout=StringIO(),
        )


@pytest.mark.django_db
def test_other_dialects_load(tmp_path):
    """Semicolons, day-first dates, decimal commas, a Windows-1252 export and a fixed region."""
    path = tmp_path / "export.csv"
    path.write_bytes(
        "Kunde;Datum;Betrag;Artikel\nK1;03.02.2024 10:15;12,50;Käse\nK2;28.02.2024 09:00;1.234,00;Brot\n"
        "K1;31.02.2024 10:00;5,00;Wurst\n".encode("cp1252")
    )
    out = StringIO()
    call_command(
        "import_transactions",
        str(path),
        "--customer-col",
        "Kunde",
        "--date-col",
        "Datum",
        "--amount-col",
        "Betrag",
        "--product-col",
        "Artikel",
        "--region",
        "DE",
        stdout=out,
    )
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (result["read"], result["loaded"], result["quarantined"]) == (3, 2, 1)
    assert result["by_code"] == {"bad_date": 1}
    assert sorted(float(v) for v in OrderLine.objects.values_list("amount", flat=True)) == [12.5, 1234.0]
    assert set(OrderLine.objects.values_list("sku", flat=True)) == {"Käse", "Brot"}
