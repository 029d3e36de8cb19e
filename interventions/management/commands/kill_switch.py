"""python manage.py kill_switch engage|release|status [--region CODE] [--reason TEXT]

Engages or releases the kill switch of one region (or, without --region, of every region); engaging stops the
running campaigns it covers at once. Audited with the reason, as the command's actor."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.models import Region
from cartportal.services import DomainError
from interventions import killswitch


class Command(BaseCommand):
    help = "Engage or release the campaign kill switch for one region or all; 'status' lists the switches."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["engage", "release", "status"])
        parser.add_argument("--region", default="", help="region code (default: every region)")
        parser.add_argument("--reason", default="", help="why (required to engage or release; audited)")

    def handle(self, *args, **opts):
        if opts["action"] != "status":
            self._change(opts)
        for row in killswitch.kill_switches():
            state = "engaged" if row["engaged"] else "released"
            self.stdout.write(f"{row['region'] or 'all regions'}: {state} ({row['reason']}, by {row['changed_by']})")
        self.stdout.write(f"global switch engaged: {killswitch.kill_switch_engaged()}")

    def _change(self, opts) -> None:
        region = None
        if opts["region"]:
            region = Region.objects.filter(code__iexact=opts["region"]).first()
            if region is None:
                raise CommandError(f"no region {opts['region']!r}")
        try:
            killswitch.kill_switch_set(
                actor=SystemActor("command:kill_switch"),
                engaged=opts["action"] == "engage",
                reason=opts["reason"],
                region=region,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
