from django.core.management.base import BaseCommand, CommandError

from predictions.abandonment import protocol


class Command(BaseCommand):
    help = (
        "Evaluate the session purchase/abandonment model on a file shaped like the Online Shoppers Purchasing "
        "Intention data with repeated random 70/30 splits. The last line is one JSON object with accuracy, tpr, "
        "tnr, f1, roc_auc and tpr_at_tnr92, each averaged over the repeats."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV with one row per session and a Revenue label")
        parser.add_argument("--protocol", default="sakar2018", choices=["sakar2018"])
        parser.add_argument("--repeats", type=int, default=5, help="number of random 70/30 splits (seeds 0..N-1)")
        parser.add_argument("--iterations", type=int, default=600, help="CatBoost boosting rounds")

    def handle(self, *args, **options):
        def report(done, total, metrics):
            self.stdout.write(
                f"split {done}/{total}: accuracy {metrics.accuracy:.4f} roc_auc {metrics.roc_auc:.4f} "
                f"tpr_at_tnr92 {metrics.tpr_at_tnr92:.4f}"
            )

        try:
            result = protocol.run(
                options["file"], repeats=options["repeats"], iterations=options["iterations"], progress=report
            )
        except protocol.ProtocolError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(protocol.to_json_line(result))
