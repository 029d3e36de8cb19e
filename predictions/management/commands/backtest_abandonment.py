import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from cartportal.models import Region
from predictions.abandonment.cart import backtest
from predictions.abandonment.cart.model import TrainingError


class Command(BaseCommand):
    help = (
        "Backtest the cart abandonment model: train on carts opened before the cut-off, score the carts opened "
        "after it at their prediction points and compare with what happened. The last line is one JSON object with "
        "carts, bought, roc_auc, pr_auc, brier, top_decile_lift and drivers (mean absolute contribution per driver)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cutoff", required=True, help="YYYY-MM-DD (UTC midnight)")
        parser.add_argument("--region", nargs="+", default=[], metavar="CODE", help="region codes (default: all)")
        parser.add_argument("--window-hours", type=int, default=None, help="recovery window (default: the setting)")
        parser.add_argument("--iterations", type=int, default=400, help="CatBoost boosting rounds")

    def handle(self, *args, **options):
        cutoff = _cutoff(options["cutoff"])
        if options["window_hours"] is not None and not 1 <= options["window_hours"] <= 24 * 90:
            raise CommandError("--window-hours must be between 1 and 2160.")
        region_ids = _regions(options["region"])
        self.stdout.write(f"Backtest at {cutoff:%Y-%m-%d}: training on the carts opened before it ...")
        try:
            result = backtest.run(
                cutoff=cutoff,
                region_ids=region_ids,
                window_hours=options["window_hours"],
                iterations=options["iterations"],
            )
        except TrainingError as exc:
            raise CommandError(f"Cannot backtest at {cutoff:%Y-%m-%d}: {exc}.") from exc
        self.stdout.write(json.dumps(result, sort_keys=False))


def _cutoff(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"--cutoff {text!r} is not a date like 2026-06-30.") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _regions(codes: list[str]) -> list[int] | None:
    if not codes:
        return None
    found = {r.code.upper(): r.pk for r in Region.objects.all()}
    unknown = [c for c in codes if c.upper() not in found]
    if unknown:
        raise CommandError(f"Unknown region code(s): {', '.join(unknown)}; known: {', '.join(sorted(found))}.")
    return [found[c.upper()] for c in codes]
