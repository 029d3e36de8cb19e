"""The real public data sets as the tests use them: the import options of the Online Retail export, shared by the
ingest and segment tests."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command

ONLINE_RETAIL_IMPORT_ARGS = [
    "--customer-col",
    "CustomerID",
    "--date-col",
    "InvoiceDate",
    "--quantity-col",
    "Quantity",
    "--price-col",
    "UnitPrice",
    "--product-col",
    "StockCode",
    "--invoice-col",
    "InvoiceNo",
    "--region-col",
    "Country",
]


def import_online_retail(path, *, consenting: bool = True) -> dict:
    """Import an Online Retail export through the public command; returns the command's JSON summary. The export
    carries no consent, so its customers have not consented (opt-in); `consenting` stands in for the shop's consent
    export, which a real shop imports with the customers file."""
    out = StringIO()
    call_command("import_transactions", str(path), *ONLINE_RETAIL_IMPORT_ARGS, stdout=out)
    if consenting:
        from cartportal.models import Customer

        Customer.objects.filter(erased_at__isnull=True).update(consent_marketing=True, consent_personalisation=True)
    return json.loads(out.getvalue().strip().splitlines()[-1])
