import json
import time

from django.core.management.base import BaseCommand

from cartportal.history import recompute_customer_history


class Command(BaseCommand):
    help = (
        "Rebuild the per-customer order aggregates (which the database keeps current as orders are written) from "
        "every order, for repairs. The last line is a JSON object with the rows written and the seconds taken."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        rows = recompute_customer_history()
        seconds = round(time.perf_counter() - started, 3)
        self.stdout.write(f"customer history recomputed: {rows} customers with orders in {seconds} s")
        self.stdout.write(json.dumps({"rows": rows, "seconds": seconds}))
