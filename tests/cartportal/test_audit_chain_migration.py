"""Rows written before the database took over the chain keep their unkeyed hashes and still verify; the keyed rows
continue the same chain from them."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cartportal.apps import grant_application_role
from cartportal.audit import GENESIS, compute_hash, record, verify_chain
from cartportal.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target=None):
    """To `target`, or (None) forward to the newest migration of every app again."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())


def _legacy_rows(n: int) -> list[AuditEvent]:
    """What the application wrote before migration 0009: it chose id, time and an unkeyed SHA-256 itself."""
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        fields = {
            "id": i,
            "occurred_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            "actor": "command:legacy",
            "action": "legacy.event",
            "object_type": "thing",
            "object_id": str(i),
            "region_code": "",
            "before": None,
            "after": {"n": i},
            "reason": "",
            "request_id": "",
            "prev_hash": prev,
        }
        fields["hash"] = compute_hash(fields)
        rows.append(AuditEvent.objects.create(**fields))
        prev = fields["hash"]
    return rows


def test_chain_continues_from_the_unkeyed_rows_written_before_the_migration():
    _migrate(("cartportal", "0008_product_unit_cost"))
    try:
        legacy = _legacy_rows(4)
    finally:
        _migrate()
        grant_application_role(sender=None, using="default")  # what post_migrate does after a real migrate
    keyed = [record(actor="command:test", action="test.event") for _ in range(3)]
    assert [e.id for e in keyed] == [5, 6, 7] and keyed[0].prev_hash == legacy[-1].hash
    report = verify_chain()
    assert (report.ok, report.rows, report.keyed_from) == (True, 7, 5)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cartportal_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE cartportal_auditevent SET reason = 'edited' WHERE id = 2")
        cursor.execute("ALTER TABLE cartportal_auditevent ENABLE TRIGGER USER")
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, 2) and "edited" in report.reason


@pytest.fixture(autouse=True)
def _chain_keyed_from_the_start_afterwards():
    """The suite empties the audit table between tests: the next test's rows start at id 1 and are all keyed."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cartportal_private.audit_chain SET keyed_from = 1")
