import json

from django.core.management.base import BaseCommand, CommandError

from cartportal.audit import verify_chain


class Command(BaseCommand):
    help = "Walk the audit hash chain and name the first broken row."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(f"audit chain intact: {report.rows} rows")
            self.stdout.write(json.dumps({"ok": True, "rows": report.rows}))
            return
        self.stdout.write(f"audit chain BROKEN at row {report.broken_at}: {report.reason}")
        self.stdout.write(json.dumps({"ok": False, "broken_at": report.broken_at, "reason": report.reason}))
        raise CommandError(f"audit chain broken at row {report.broken_at}")
