from django.core.management.base import BaseCommand

from cartportal.access import ensure_role_groups


class Command(BaseCommand):
    help = "Create the role groups (Analyst, RegionalManager, Executive, Compliance, Partner, Admin)."

    def handle(self, *args, **options):
        groups = ensure_role_groups()
        self.stdout.write("roles: " + ", ".join(sorted(groups)))
