"""import_file: any kind, .xlsx included, with a column mapping and the same JSON last line."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from cartportal.models import Customer


def run(*args) -> dict:
    out = StringIO()
    call_command("import_file", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_xlsx_customers_with_a_mapping(tmp_path, world):
    import datetime

    book = Workbook()
    sheet = book.active
    sheet.append(["Kunden-Nr", "Land", "Seit", "Newsletter", "Alter"])
    sheet.append([1001, "NORTH", datetime.datetime(2024, 5, 1, 9, 30), "ja", "25-34"])
    sheet.append([1002, "NORTH", datetime.datetime(2024, 6, 2), "nein", "35-44"])
    sheet.append([None, "NORTH", datetime.datetime(2024, 6, 3), "ja", ""])
    sheet.append([1003, "NORTH", "not a date", "ja", ""])
    sheet.append([1001, "NORTH", datetime.datetime(2024, 5, 1, 9, 30), "ja", "25-34"])
    path = tmp_path / "kunden.xlsx"
    book.save(path)
    result = run(
        "customers",
        str(path),
        "--map",
        "customer=Kunden-Nr",
        "--map",
        "region=Land",
        "--map",
        "first_seen=Seit",
        "--map",
        "consent_marketing=Newsletter",
        "--map",
        "age_band=Alter",
    )
    assert (result["read"], result["loaded"], result["quarantined"], result["duplicates"]) == (5, 2, 2, 1)
    assert result["by_code"] == {"missing_required": 1, "bad_date": 1, "duplicate_in_file": 1}
    first = Customer.objects.get(external_id="1001")
    assert first.consent_marketing and first.age_band == "25-34" and first.region == world.region_a
    assert first.first_seen.isoformat() == "2024-05-01T09:30:00+00:00"
    assert not Customer.objects.get(external_id="1002").consent_marketing


@pytest.mark.django_db
def test_unknown_field_in_mapping_is_a_clear_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,name\n1,A\n")
    with pytest.raises(CommandError, match="Unknown field 'shoe_size'"):
        run("customers", str(path), "--map", "shoe_size=name", "--region", "X")
