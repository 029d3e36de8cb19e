"""python manage.py evaluate_winback FILE --customer-col NAME --date-col NAME (--amount-col NAME | --quantity-col NAME
--price-col NAME) [--invoice-col NAME] [--date-format FMT] --base-start YYYY-MM-DD [--months 3] [--top 0.2]

Customers who bought in the base period and stayed dormant for the dormant period are ranked by a model chosen and
trained on the window one period earlier; the last line is one JSON object: dormant, base_rate, top_rate, lift,
revenue_top, revenue_random, model (and the windows and how the model was chosen)."""

import datetime as dt
import json

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from predictions.value.transactions import ColumnMap, TransactionError
from predictions.winback import lines as wl
from predictions.winback import model as wm
from predictions.winback.features import Window


class Command(BaseCommand):
    help = "Measure how much better a win-back ranking of dormant customers is than a random pick."

    def add_arguments(self, parser):
        parser.add_argument("file", help="transaction CSV (one row per order line or per order)")
        parser.add_argument("--customer-col")
        parser.add_argument("--date-col")
        parser.add_argument("--amount-col")
        parser.add_argument("--quantity-col")
        parser.add_argument("--price-col")
        parser.add_argument("--invoice-col", help="invoice numbers starting with C are cancellations")
        parser.add_argument("--date-format", help="strptime format, e.g. %%d/%%m/%%Y %%H:%%M (default: detected)")
        parser.add_argument("--base-start", required=True, help="YYYY-MM-DD: first day of the base period")
        parser.add_argument("--months", type=int, default=3, help="length of the base, dormant and target periods")
        parser.add_argument("--top", type=float, default=0.2, help="share of the dormant customers to pick")
        parser.add_argument("--delimiter")
        parser.add_argument("--encoding")

    def handle(self, *args, **o):
        window = self._window(o)
        if not 0 < o["top"] <= 1:
            raise CommandError(f"--top must be a share above 0 and at most 1, not {o['top']}")
        columns = ColumnMap(
            customer=o["customer_col"],
            date=o["date_col"],
            amount=o["amount_col"],
            quantity=o["quantity_col"],
            price=o["price_col"],
            invoice=o["invoice_col"],
            date_format=o["date_format"],
        )
        try:
            lines = wl.from_file(o["file"], columns, delimiter=o["delimiter"], encoding=o["encoding"])
            result = wm.evaluate(lines, window, share=o["top"])
        except TransactionError as exc:
            raise CommandError(str(exc)) from exc
        result["data_end"] = lines["at"].max().date().isoformat()
        self.stdout.write(
            f"{result['dormant']} dormant customers; top {result['top']} by {result['model']}: return rate "
            f"{result['top_rate']} against {result['base_rate']} (lift {result['lift']}); revenue "
            f"{result['revenue_top']:,.0f} against {result['revenue_random']:,.0f} for a random pick"
        )
        self.stdout.write(json.dumps(result))

    def _window(self, o) -> Window:
        if o["months"] < 1:
            raise CommandError(f"--months must be at least 1, not {o['months']}")
        try:
            return Window(pd.Timestamp(dt.date.fromisoformat(o["base_start"])), o["months"])
        except ValueError as exc:
            raise CommandError(f"--base-start must be a date like 2011-04-01, not {o['base_start']!r}") from exc
