"""python manage.py forecast_value --cutoff YYYY-MM-DD --horizon-days N --out FILE.csv [--file CSV ...]

Writes one row per customer (customer_id, p_active, expected_purchases, expected_spend) and prints, as its last
line, one JSON object: the chosen model, how it was chosen, and the holdout figures when the horizon lies inside
the data (top-decile lift over random targeting, revenue captured, predicted vs actual purchases)."""

import json

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from predictions.value import forecast as fc
from predictions.value import transactions as tx
from predictions.value.selectors import transactions_for

OUTPUT_COLUMNS = ["customer_id", "p_active", "expected_purchases", "expected_spend"]


class Command(BaseCommand):
    help = "Forecast each customer's probability of being active, purchases and spend over a horizon."

    def add_arguments(self, parser):
        parser.add_argument("--cutoff", required=True, help="YYYY-MM-DD; nothing on or after it is used for fitting")
        parser.add_argument("--horizon-days", type=int, default=365)
        parser.add_argument("--out", required=True, help="CSV file to write")
        parser.add_argument("--model", default="auto", choices=["auto", *fc.FORECASTERS])
        parser.add_argument("--region", action="append", help="region code(s) to read from the database")
        parser.add_argument("--file", help="read a transaction CSV directly instead of the database")
        parser.add_argument("--customer-col")
        parser.add_argument("--date-col")
        parser.add_argument("--date-format", help="strptime format, e.g. %%d/%%m/%%Y %%H:%%M (default: detected)")
        parser.add_argument("--amount-col")
        parser.add_argument("--quantity-col")
        parser.add_argument("--price-col")
        parser.add_argument("--invoice-col", help="invoice numbers starting with C are cancellations")
        parser.add_argument("--delimiter")
        parser.add_argument("--encoding")

    def handle(self, *args, **o):
        try:
            cutoff = pd.Timestamp(o["cutoff"])
        except ValueError as exc:
            raise CommandError(f"--cutoff must be a date like 2011-09-01, not {o['cutoff']!r}") from exc
        try:
            frame = self._transactions(o)
            result = fc.forecast_value(frame, cutoff, o["horizon_days"], model=o["model"])
        except tx.TransactionError as exc:
            raise CommandError(str(exc)) from exc
        table = result.forecast.rename_axis("customer_id").reset_index()[OUTPUT_COLUMNS]
        table.to_csv(o["out"], index=False, float_format="%.6f")
        summary = {
            "model": result.model,
            "cutoff": cutoff.date().isoformat(),
            "horizon_days": o["horizon_days"],
            "customers": int(len(table)),
            "expected_purchases": round(float(table["expected_purchases"].sum()), 1),
            "expected_spend": round(float(table["expected_spend"].sum()), 2),
            "selection": result.selection,
            "holdout": result.holdout,
        }
        if result.holdout:
            self.stdout.write(
                f"holdout: predicted {result.holdout['predicted_purchases']} vs actual "
                f"{result.holdout['actual_purchases']} purchases; top-decile lift {result.holdout['top_decile_lift']}x"
            )
            summary.update(
                top_decile_lift=result.holdout["top_decile_lift"],
                revenue_captured_top_decile=result.holdout["revenue_captured_top_decile"],
                predicted_purchases=result.holdout["predicted_purchases"],
                actual_purchases=result.holdout["actual_purchases"],
            )
        self.stdout.write(json.dumps(summary))

    def _transactions(self, o) -> pd.DataFrame:
        if o["file"]:
            columns = tx.ColumnMap(
                customer=o["customer_col"],
                date=o["date_col"],
                amount=o["amount_col"],
                quantity=o["quantity_col"],
                price=o["price_col"],
                invoice=o["invoice_col"],
                date_format=o["date_format"],
            )
            return tx.from_file(o["file"], columns, delimiter=o["delimiter"], encoding=o["encoding"])
        return transactions_for(SystemActor("command:forecast_value"), o["region"])
