"""python manage.py evaluate_policy FILE --arm-col NAME --reward-col NAME [--propensity-col NAME | --uniform]
[--features a,b,c]

Fits the allocation policy (Thompson allocation per context stratum) on a stratified half of a logged experiment
(seed 42) and evaluates it on the other half with IPW, self-normalised IPW and doubly robust estimators. The last
line is one JSON object: policy_value (DR), policy_value_ci, ipw, snipw, best_single_arm, best_single_arm_value,
arm_shares.
"""

from __future__ import annotations

import csv
import json

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from interventions.allocation.policy import PolicyDataError, evaluate


class Command(BaseCommand):
    help = "Evaluate the adaptive allocation policy off-policy on a logged experiment (IPW, SNIPW, DR)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--arm-col", required=True, help="column naming the arm each row was given")
        parser.add_argument("--reward-col", required=True, help="numeric or true/false outcome column")
        logging = parser.add_mutually_exclusive_group(required=True)
        logging.add_argument("--propensity-col", help="column with the logging policy's probability of the arm")
        logging.add_argument("--uniform", action="store_true", help="arms were assigned uniformly at random")
        parser.add_argument("--features", default="", help="comma-separated context columns (default: none)")

    def handle(self, *args, **opts):
        frame = read_table(opts["file"])
        features = [f.strip() for f in opts["features"].split(",") if f.strip()]
        try:
            result, details = evaluate(
                frame,
                arm_col=opts["arm_col"],
                reward_col=opts["reward_col"],
                propensity_col=None if opts["uniform"] else opts["propensity_col"],
                features=features,
            )
        except PolicyDataError as exc:
            raise CommandError(str(exc)) from exc
        train, test = details["rows"]
        self.stdout.write(f"{train} rows to fit the policy, {test} held out; context: {', '.join(features) or 'none'}")
        for name, value in details["single_arm_values"].items():
            self.stdout.write(f"always {name}: {value} (doubly robust, held-out half)")
        self.stdout.write(json.dumps(result))


def read_table(path: str) -> pd.DataFrame:
    """A delimited text file with a header row; the delimiter is detected from its first lines."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(64_000)
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter if sample else ","
        frame = pd.read_csv(path, sep=delimiter, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except (UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
        raise CommandError(f"{path} is not a readable delimited text file: {exc}") from None
    if frame.empty:
        raise CommandError(f"{path} has no data rows")
    return frame
