import json

from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.errors import AppError
from cartportal.logins import lockout_lift


class Command(BaseCommand):
    help = "Lift a login lockout (too many wrong passwords) for an account and/or an address; audited."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="")
        parser.add_argument("--ip", default="", help="the client address that was locked out")

    def handle(self, *args, username: str, ip: str, **options):
        try:
            removed = lockout_lift(actor=SystemActor("command:lift_login_lockout"), username=username, ip_address=ip)
        except AppError as error:
            raise CommandError(error.message) from error
        self.stdout.write(json.dumps({"username": username, "ip_address": ip, "attempts_removed": removed}))
