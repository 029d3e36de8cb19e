import pytest
from django.core.management import call_command
from django.db import connection

from cartportal.audit import verify_chain
from cartportal.models import AuditEvent, Customer
from cartportal.services import customer_erase
from tests.factories import CustomerFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def _all_text_in_database() -> str:
    """Every text-like column of every table, so the test finds PII wherever it might hide."""
    chunks = []
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb')"""
        )
        for table, column in cursor.fetchall():
            cursor.execute(f'SELECT string_agg("{column}"::text, \'|\') FROM "{table}"')
            chunks.append(cursor.fetchone()[0] or "")
    return "\n".join(chunks)


def test_erase_customer_command_removes_personal_data_everywhere(world):
    customer = CustomerFactory(
        region=world.region_a,
        external_id="SHOP-991",
        name="Ada Lovelace",
        email="ada@example.org",
        age_band="35-44",
        gender="female",
    )
    ReviewFactory(customer=customer, text="Ada here: the parcel came late to 12 Analytical Street")
    call_command("erase_customer", "SHOP-991")
    text = _all_text_in_database()
    for personal in ["Ada Lovelace", "ada@example.org", "SHOP-991", "Analytical Street"]:
        assert personal not in text
    customer.refresh_from_db()
    assert customer.erased_at is not None
    assert (customer.consent_marketing, customer.consent_personalisation) == (False, False)
    assert verify_chain().ok
    event = AuditEvent.objects.get(action="customer.erased")
    assert event.object_id == str(customer.pk) and event.actor == "command:erase_customer"


def test_manager_cannot_erase_foreign_customer(world):
    from cartportal.access import NotFoundOrForbidden

    customer = CustomerFactory(region=world.region_b, name="Grace Hopper")
    with pytest.raises(NotFoundOrForbidden):
        customer_erase(actor=world.manager_a, customer=customer)
    assert Customer.objects.get(pk=customer.pk).name == "Grace Hopper"
