"""python manage.py evaluate_recommendations FILE --customer-col NAME --item-col NAME --date-col NAME
[--invoice-col NAME] [--quantity-col NAME] --cutoff YYYY-MM-DD [--k 10]

Trains on the purchases before the cut-off (cancellations and returns removed) and evaluates, for customers who
bought on both sides, the items they bought after it that they had not bought before. The last line is one JSON
object: users, recall_at_k, ndcg_at_k, model and baselines (popularity and item-item on the same split)."""

import datetime as dt
import json

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from predictions.recommend import evaluate as ev
from predictions.recommend import interactions as ia


class Command(BaseCommand):
    help = "Evaluate purchase-history recommendations on the purchases after a cut-off."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV of order lines (one row per customer, item and purchase)")
        parser.add_argument("--customer-col", required=True)
        parser.add_argument("--item-col", required=True)
        parser.add_argument("--date-col", required=True)
        parser.add_argument("--invoice-col", help="invoice numbers starting with C are cancellations")
        parser.add_argument("--quantity-col", help="rows with a quantity of 0 or less are returns")
        parser.add_argument("--date-format", help="strptime format, e.g. %%d/%%m/%%Y %%H:%%M (default: detected)")
        parser.add_argument("--delimiter")
        parser.add_argument("--cutoff", required=True, help="YYYY-MM-DD: fit before it, evaluate from it on")
        parser.add_argument("--k", type=int, default=10, help="length of each customer's list (default 10)")

    def handle(self, *args, **o):
        if o["k"] < 1:
            raise CommandError("--k must be at least 1")
        try:
            cutoff = pd.Timestamp(dt.date.fromisoformat(o["cutoff"]))
        except ValueError as exc:
            raise CommandError(f"--cutoff must be a date like 2011-01-04, not {o['cutoff']!r}") from exc
        columns = ia.InteractionColumns(
            customer=o["customer_col"],
            item=o["item_col"],
            date=o["date_col"],
            invoice=o["invoice_col"],
            quantity=o["quantity_col"],
            date_format=o["date_format"],
        )
        try:
            purchases = ia.read_file(o["file"], columns, delimiter=o["delimiter"])
            result = ev.evaluate(purchases, cutoff, o["k"])
        except ia.InteractionError as exc:
            raise CommandError(str(exc)) from exc
        base = result["baselines"]
        for name, card in (("model", result), ("item-item", base["item_item"]), ("popularity", base["popularity"])):
            self.stdout.write(
                f"{name}: recall@{o['k']} {card['recall_at_k']:.4f}, ndcg@{o['k']} {card['ndcg_at_k']:.4f}"
            )
        self.stdout.write(json.dumps(result))
