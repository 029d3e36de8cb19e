"""python manage.py import_transactions FILE --customer-col C --date-col D [--date-format FMT]
   (--amount-col A | --quantity-col Q --price-col P) [--product-col S] [--invoice-col I]
   (--region-col R | --region CODE)

Prints, as its last line, one JSON object: read, loaded, cancellations, quarantined, duplicates (read is the sum of
the other four), plus the job id, the reasons rows were quarantined and `failed` (null, or why the import stopped
early: a database error rolls back the chunk in flight; the command then exits with status 1)."""

import json

from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.services import DomainError


class Command(BaseCommand):
    help = "Import a transaction log (CSV or .xlsx): one row per order line."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--customer-col", required=True)
        parser.add_argument("--date-col", required=True)
        parser.add_argument("--date-format", help="strptime format, e.g. %%d/%%m/%%Y %%H:%%M (default: detected)")
        parser.add_argument("--amount-col")
        parser.add_argument("--quantity-col")
        parser.add_argument("--price-col")
        parser.add_argument("--product-col")
        parser.add_argument("--description-col")
        parser.add_argument("--invoice-col")
        parser.add_argument("--region-col")
        parser.add_argument("--region", help="region code (or name) for every row")
        parser.add_argument("--region-prefix", default="", help="prefix for region codes made from --region-col")
        parser.add_argument("--delimiter")
        parser.add_argument("--encoding")

    def handle(self, *args, **o):
        if not o["amount_col"] and not (o["quantity_col"] and o["price_col"]):
            raise CommandError("Give --amount-col, or --quantity-col and --price-col.")
        if bool(o["region_col"]) == bool(o["region"]):
            raise CommandError("Give exactly one of --region-col and --region.")
        mapping = {"customer": o["customer_col"], "date": o["date_col"]}
        for name, option in [
            ("amount", "amount_col"),
            ("quantity", "quantity_col"),
            ("price", "price_col"),
            ("product", "product_col"),
            ("description", "description_col"),
            ("invoice", "invoice_col"),
            ("region", "region_col"),
        ]:
            if o[option]:
                mapping[name] = o[option]
        options = ImportOptions(
            kind="transactions",
            mapping=mapping,
            region=o["region"],
            region_prefix=o["region_prefix"],
            date_format=o["date_format"],
            delimiter=o["delimiter"],
            encoding=o["encoding"],
            guess_columns=False,
            filename=o["file"],
        )
        try:
            job = import_run(actor=SystemActor("command:import_transactions"), source=o["file"], options=options)
        except (DomainError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        counts = job.counts
        for code, n in sorted(counts.get("by_code", {}).items()):
            self.stdout.write(f"  {code:<24} {n:>9,}")
        result = {k: counts[k] for k in ("read", "loaded", "cancellations", "quarantined", "duplicates")}
        result["erased_skipped"] = counts.get("erased_skipped", 0)  # rows naming an erased customer: not kept
        result.update(
            job=job.pk,
            by_code=counts.get("by_code", {}),
            date_formats=counts.get("date_formats", {}),
            encoding=counts.get("encoding"),
        )
        result["failed"] = counts.get("failed")  # why the import stopped early (a database error), else null
        self.stdout.write(json.dumps(result))
        if result["failed"]:
            raise SystemExit(1)  # the summary stays the last line; the exit status tells scripts it failed
