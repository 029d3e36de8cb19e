"""python manage.py import_file KIND FILE [--map field=column ...] [--region CODE] [--date-format FMT]

Any kind the Data tab takes (customers, products, transactions, orders, order_items, payments, sellers, sessions,
cart_events, reviews, survey). Prints the reasons, then one JSON object with the counts as its last line, with
`failed` null, or why the import stopped early (a database error; the command then exits with status 1)."""

import json
import re

from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.ingest.entities import LOADERS
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.services import import_run
from cartportal.services import DomainError


class Command(BaseCommand):
    help = "Import a CSV or .xlsx file of one kind, with an optional column mapping."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(LOADERS))
        parser.add_argument("file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="column for a field (repeatable); other columns are matched by name",
        )
        parser.add_argument("--region", help="region code (or name) for rows without one")
        parser.add_argument("--region-prefix", default="")
        parser.add_argument("--date-format")
        parser.add_argument("--delimiter")
        parser.add_argument("--encoding")
        parser.add_argument("--currency", default="", help="the shop's currency (ISO code); regions created carry it")

    def handle(self, *args, **o):
        mapping = {}
        for item in o["map"]:
            if "=" not in item:
                raise CommandError(f"--map takes FIELD=COLUMN, got {item!r}")
            field, column = item.split("=", 1)
            mapping[field.strip()] = column.strip()
        if o["currency"] and not re.fullmatch(r"[A-Za-z]{3}", o["currency"]):
            raise CommandError(f"--currency takes a three-letter code such as EUR, got {o['currency']!r}")
        options = ImportOptions(
            kind=o["kind"],
            mapping=mapping,
            region=o["region"],
            region_prefix=o["region_prefix"],
            date_format=o["date_format"],
            delimiter=o["delimiter"],
            encoding=o["encoding"],
            filename=o["file"],
            currency=o["currency"].upper(),
        )
        try:
            job = import_run(actor=SystemActor("command:import_file"), source=o["file"], options=options)
        except (DomainError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        counts = job.counts
        for code, n in sorted(counts.get("by_code", {}).items()):
            self.stdout.write(f"  {code:<24} {n:>9,}")
        result = {k: counts[k] for k in ("read", "loaded", "cancellations", "quarantined", "duplicates")}
        result["erased_skipped"] = counts.get("erased_skipped", 0)  # rows naming an erased customer: not kept
        result.update(job=job.pk, by_code=counts.get("by_code", {}), mapping=counts.get("mapping", {}))
        result["failed"] = counts.get("failed")  # why the import stopped early (a database error), else null
        self.stdout.write(json.dumps(result))
        if result["failed"]:
            raise SystemExit(1)  # the summary stays the last line; the exit status tells scripts it failed
