"""The compliance audit viewer: filters, pagination, CSV export (itself audited) and chain status."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.urls import reverse

from cartportal.audit import record
from cartportal.models import AuditEvent
from cartportal.portal.selectors.audit import CSV_COLUMNS

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(world):
    record(actor="user:1", action="campaign.approved", object_type="campaign", object_id=7, region_code="NORTH")
    record(actor="user:1", action="campaign.rejected", object_type="campaign", object_id=8, region_code="SOUTH")
    record(actor="task:rescore", action="scores.published", object_type="model", object_id=3, region_code="NORTH")
    record(actor="user:2", action="customer.erased", object_type="customer", object_id=7, region_code="SOUTH")
    return world


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _get(client, user, **params):
    client.force_login(user)
    return client.get(reverse("portal:audit"), params)


def test_filters_combine(client, trail):
    rows = _rows(_get(client, trail.compliance, actor="user:1", action="campaign.", format="csv"))
    assert [r["action"] for r in rows] == ["campaign.rejected", "campaign.approved"]
    rows = _rows(_get(client, trail.compliance, region="NORTH", format="csv"))
    assert {r["action"] for r in rows} == {"campaign.approved", "scores.published"}
    rows = _rows(_get(client, trail.compliance, object="campaign:7", format="csv"))
    assert [r["object_id"] for r in rows] == ["7"] and rows[0]["object_type"] == "campaign"
    rows = _rows(_get(client, trail.compliance, object="7", format="csv"))
    assert sorted(r["action"] for r in rows) == ["campaign.approved", "customer.erased"]


def test_date_range_filters_by_day(client, trail):
    today = dt.date.today()
    assert len(_rows(_get(client, trail.compliance, date_from=today.isoformat(), format="csv"))) >= 4
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert _rows(_get(client, trail.compliance, date_to=yesterday, format="csv")) == []


def test_csv_has_the_documented_columns_and_is_itself_audited(client, trail):
    before = AuditEvent.objects.filter(action="audit.exported").count()
    response = _get(client, trail.compliance, region="SOUTH", format="csv")
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].split(",") == CSV_COLUMNS
    assert AuditEvent.objects.filter(action="audit.exported").count() == before + 1
    exported = AuditEvent.objects.filter(action="audit.exported").last()
    assert exported.actor == f"user:{trail.compliance.pk}" and exported.after["rows"] == 2


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date_from": "31/31/2024"}, "Enter a valid date"),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "The start date is after the end date."),
        ({"region": "NOWHERE"}, "Select a valid choice"),
    ],
)
def test_bad_filters_give_a_message_not_an_error(client, trail, params, message):
    response = _get(client, trail.compliance, **params)
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert "campaign.approved" not in body


def test_pagination_keeps_the_filters(client, trail):
    for i in range(60):
        record(actor="command:bulk", action="bulk.row", object_id=i)
    response = _get(client, trail.compliance, actor="command:bulk")
    body = response.content.decode()
    assert "60 events" in body and "Page 1 of 2" in body
    assert "actor=command%3Abulk&amp;page=2" in body
    page2 = _get(client, trail.compliance, actor="command:bulk", page=2).content.decode()
    assert page2.count("bulk.row") == 10


def test_chain_status_reports_intact_and_broken(client, trail):
    body = _get(client, trail.compliance).content.decode()
    assert "Chain verified: all 4 rows are intact" in body
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cartportal_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE cartportal_auditevent SET action = 'forged' WHERE id = 2")
        cursor.execute("ALTER TABLE cartportal_auditevent ENABLE TRIGGER USER")
    body = _get(client, trail.compliance).content.decode()
    assert "Chain broken at row 2: its contents do not match its hash (edited)" in body


def test_other_roles_read_nothing(client, trail):
    response = _get(client, trail.manager_a, format="csv")
    assert response.status_code == 200
    assert "campaign.approved" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
