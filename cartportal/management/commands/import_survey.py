from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.models import Region
from cartportal.portal.services import survey_import
from cartportal.services import DomainError


class Command(BaseCommand):
    help = "Load a customer-research survey export (CSV, one respondent a row) into a region."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--region", required=True, help="Region code the respondents belong to")

    def handle(self, *args, file: str, region: str, **options):
        target = Region.objects.filter(code=region).first()
        if target is None:
            raise CommandError(f"There is no region with code {region!r}.")
        try:
            rows = survey_import(actor=SystemActor("command:import_survey"), source=file, region=target)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Loaded {rows} survey responses into {target.code}.")
