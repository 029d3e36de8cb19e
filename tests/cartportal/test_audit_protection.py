"""The database keeps the audit trail append-only, and verify_audit names the first tampered row."""

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cartportal.audit import record, verify_chain

pytestmark = pytest.mark.django_db


def _app_role_connection():
    params = dict(connection.get_connection_params())
    params["user"] = settings.DATABASE_APP_ROLE
    params.pop("password", None)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params["autocommit"] = True
    return psycopg.connect(**{k: v for k, v in params.items() if k in {"dbname", "user", "host", "port", "autocommit"}})


def _seed(n=5):
    return [record(actor="command:test", action="test.event", object_type="thing", object_id=i) for i in range(n)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE cartportal_auditevent SET action = 'forged'",
        "DELETE FROM cartportal_auditevent",
        "TRUNCATE cartportal_auditevent",
        "ALTER TABLE cartportal_auditevent DISABLE TRIGGER ALL",
        "ALTER TABLE cartportal_auditevent ADD COLUMN note text",
    ],
)
def test_application_role_cannot_change_audit_rows(statement):
    if settings.DATABASE_APP_ROLE == connection.settings_dict["USER"]:
        pytest.skip("one database role configured: only the trigger protects the table")
    _seed(2)
    with _app_role_connection() as app:
        app.execute("SELECT count(*) FROM cartportal_auditevent").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(statement)
    assert verify_chain().ok
    assert verify_chain().rows == 2


def test_application_role_can_insert_through_recorder():
    rows = _seed(3)
    assert [r.id for r in rows] == [rows[0].id, rows[0].id + 1, rows[0].id + 2]
    assert verify_chain().ok


def test_trigger_refuses_update_and_delete_even_for_owner():
    _seed(1)
    with pytest.raises(Exception, match="append-only"):
        with connection.cursor() as cursor, connection.constraint_checks_disabled():
            cursor.execute("UPDATE cartportal_auditevent SET action = 'forged'")


def _tamper(sql: str, params=None):
    """What an owner or superuser could do: switch the trigger off, change rows, switch it back."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cartportal_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE cartportal_auditevent ENABLE TRIGGER USER")


def _verify_output():
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit")
    return str(exc.value)


def test_verify_catches_an_edited_row_at_that_row():
    rows = _seed(6)
    _tamper("UPDATE cartportal_auditevent SET reason = 'edited' WHERE id = %s", [rows[3].id])
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, rows[3].id)
    assert "edited" in report.reason
    assert f"row {rows[3].id}" in _verify_output()


def test_verify_catches_a_deleted_row_at_the_next_row():
    rows = _seed(6)
    _tamper("DELETE FROM cartportal_auditevent WHERE id = %s", [rows[2].id])
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, rows[3].id)
    assert "missing" in report.reason


def test_verify_catches_two_swapped_rows_at_the_first():
    rows = _seed(6)
    first, second = rows[1].id, rows[4].id
    _tamper("UPDATE cartportal_auditevent SET id = -1 WHERE id = %s", [first])
    _tamper("UPDATE cartportal_auditevent SET id = %s WHERE id = %s", [first, second])
    _tamper("UPDATE cartportal_auditevent SET id = %s WHERE id = -1", [second])
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, first)


def test_intact_chain_passes_command(capsys):
    _seed(4)
    call_command("verify_audit")
    assert '"ok": true' in capsys.readouterr().out
