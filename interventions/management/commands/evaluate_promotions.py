"""python manage.py evaluate_promotions FILE --customer-col NAME --item-col NAME --date-col NAME [--invoice-col NAME]
[--quantity-col NAME] [--price-col NAME] [--category-col NAME] [--region-col NAME] --cutoff YYYY-MM-DD
[--window-days 28]

Checks the weekly promotions' ranking (the portal's own code path) on an order export: ranked as of the cut-off
from what happened before it, do the three offers hold a category of a buyer's next order (in the window after
the cut-off) more often than the region's three best-sellers? The last line is one JSON object: users, the two
hit rates, the margin and its paired 95 % bootstrap interval."""

import datetime as dt
import json

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from interventions.promotions import evaluate as ev
from interventions.promotions.model import PromotionModelError


class Command(BaseCommand):
    help = "Check the weekly promotions' three offers against the region's best-sellers after a cut-off."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV of order lines (one row per customer, product and purchase)")
        parser.add_argument("--customer-col", required=True)
        parser.add_argument("--item-col", required=True, help="the product code")
        parser.add_argument("--date-col", required=True)
        parser.add_argument("--invoice-col", help="invoice numbers starting with C are cancellations")
        parser.add_argument("--quantity-col", help="rows with a quantity of 0 or less are returns")
        parser.add_argument("--price-col", help="unit price: spend and price response (default: every unit 1)")
        parser.add_argument(
            "--category-col", help="product category (default: the first three characters of the product code)"
        )
        parser.add_argument("--region-col", help="region or country of the order (default: one region)")
        parser.add_argument("--date-format", help="strptime format, e.g. %%d/%%m/%%Y %%H:%%M (default: detected)")
        parser.add_argument("--delimiter")
        parser.add_argument("--cutoff", required=True, help="YYYY-MM-DD: rank as of it, check on the window after")
        parser.add_argument("--window-days", type=int, default=28, help="length of each window (default 28)")

    def handle(self, *args, **o):
        if o["window_days"] < 1:
            raise CommandError("--window-days must be at least 1")
        try:
            cutoff = pd.Timestamp(dt.date.fromisoformat(o["cutoff"]), tz="UTC")
        except ValueError as exc:
            raise CommandError(f"--cutoff must be a date like 2011-11-01, not {o['cutoff']!r}") from exc
        columns = ev.PurchaseColumns(
            customer=o["customer_col"],
            item=o["item_col"],
            date=o["date_col"],
            invoice=o["invoice_col"],
            quantity=o["quantity_col"],
            category=o["category_col"],
            price=o["price_col"],
            region=o["region_col"],
            date_format=o["date_format"],
        )
        try:
            activity = ev.read_activity(o["file"], columns, delimiter=o["delimiter"])
            result = ev.evaluate(activity, cutoff, o["window_days"])
        except (ev.PromotionDataError, PromotionModelError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"offers: {result['hit_rate']:.4f}, best-sellers: {result['best_sellers_hit_rate']:.4f}, "
            f"margin {result['margin']:+.4f} ({result['margin_low']:+.4f} to {result['margin_high']:+.4f}), "
            f"{result['users']} buyers"
        )
        self.stdout.write(json.dumps(result))
