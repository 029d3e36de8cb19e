import json

from django.core.management.base import BaseCommand, CommandError

from cartportal.audit import verify_chain


class Command(BaseCommand):
    help = "Walk the audit hash chain, check it against the published anchors and name the first broken row."

    def handle(self, *args, **options):
        report = verify_chain()
        extra = {"keyed_from": report.keyed_from, "anchors_checked": report.anchors}
        if report.ok:
            self.stdout.write(f"audit chain intact: {report.rows} rows, {report.anchors} anchors matched")
            self.stdout.write(json.dumps({"ok": True, "rows": report.rows, **extra}))
            return
        where = f"at row {report.broken_at}" if report.broken_at is not None else "in its anchors"
        self.stdout.write(f"audit chain BROKEN {where}: {report.reason}")
        self.stdout.write(json.dumps({"ok": False, "broken_at": report.broken_at, "reason": report.reason, **extra}))
        raise CommandError(f"audit chain broken {where}")
