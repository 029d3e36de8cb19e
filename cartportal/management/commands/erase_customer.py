from django.core.management.base import BaseCommand, CommandError

from cartportal.access import SystemActor
from cartportal.models import Customer
from cartportal.services import customer_erase


class Command(BaseCommand):
    help = "Erase a customer's personal data (GDPR). ID is the shop's customer id, or #<internal id>."

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--reason", default="GDPR erasure request")

    def handle(self, *args, customer_id: str, reason: str, **options):
        lookup = {"pk": customer_id[1:]} if customer_id.startswith("#") else {"external_id": customer_id}
        try:
            customer = Customer.objects.get(**lookup)
        except (Customer.DoesNotExist, ValueError):
            raise CommandError(f"no customer with id {customer_id!r}")
        customer = customer_erase(actor=SystemActor("command:erase_customer"), customer=customer, reason=reason)
        self.stdout.write(f"erased customer #{customer.pk}")
