"""Product files may carry a unit cost (for margin-based profitability); a later file adds costs to products that
arrived earlier without one (e.g. created by a transaction import)."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from cartportal.models import Product


def run(*args) -> dict:
    out = StringIO()
    call_command("import_file", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_unit_costs_are_imported_and_added_to_known_products(tmp_path):
    Product.objects.create(sku="A1", name="known, no cost")
    path = tmp_path / "products.csv"
    path.write_text("sku,name,price,cost_price\nA1,Mug,8.00,3.25\nB2,Plate,12.00,\nC3,Bowl,9.00,-1\n")
    result = run("products", str(path))
    assert (result["read"], result["quarantined"]) == (3, 1)  # a negative cost is refused, with its line
    assert Product.objects.get(sku="A1").unit_cost == Decimal("3.2500")
    assert Product.objects.get(sku="B2").unit_cost is None
    assert not Product.objects.filter(sku="C3").exists()
