"""python manage.py evaluate_uplift FILE --treatment NAME --control NAME --target COLUMN [--seed 42]

Fits the CatBoost S-learner (primary) and the T-learner (comparison) on a stratified half of the file, prints
the comparison's held-out figures, then as its last line one JSON object with qini, auuc and uplift_at_30 of
the primary model on the held-out half.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from interventions.uplift.data import ExperimentFileError, load_experiment
from interventions.uplift.evaluate import evaluate


class Command(BaseCommand):
    help = "Evaluate uplift learners on a randomised experiment file (held-out Qini, AUUC, uplift@30%)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--treatment", required=True, help="value of the treated arm")
        parser.add_argument("--control", required=True, help="value of the control arm")
        parser.add_argument("--target", required=True, help="binary outcome column")
        parser.add_argument("--treatment-col", default=None, help="arm column (default: detected)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--folds",
            type=int,
            default=0,
            help="also report the primary model's K-fold Qini on the training half (0 = skip)",
        )

    def handle(self, *args, **opts):
        if opts["folds"] == 1 or opts["folds"] < 0:
            raise CommandError("--folds must be 0 (skip) or at least 2")
        try:
            exp = load_experiment(
                opts["file"],
                treatment=opts["treatment"],
                control=opts["control"],
                target=opts["target"],
                treatment_col=opts["treatment_col"],
            )
        except ExperimentFileError as exc:
            raise CommandError(str(exc)) from exc
        if exp.target.nunique() < 2 or len(exp.target) < 40:
            raise CommandError("need at least 40 rows and both outcome values to evaluate")
        self.stdout.write(
            f"{len(exp.target)} rows, treatment column {exp.treatment_col!r}, "
            f"features: {', '.join(exp.features.columns)}"
        )
        result = evaluate(exp, seed=opts["seed"], folds=opts["folds"], log=self.stdout.write)
        self.stdout.write(json.dumps(result))
