"""The database places every audit row in the chain (id, time, previous hash, keyed hash), and the published
anchors catch what the key alone cannot: an owner who rewrites history with the key, or who cuts the tail."""

import datetime as dt
import hashlib
import hmac
import json
import threading

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from cartportal.audit import compute_hash, record, verify_chain
from cartportal.audit.anchors import publish_anchor
from cartportal.models import AuditEvent
from tests.cartportal.test_audit_protection import _app_role_connection

pytestmark = pytest.mark.django_db(transaction=True)

FORGED_INSERT = """
INSERT INTO cartportal_auditevent (id, occurred_at, actor, action, object_type, object_id, region_code, before, after,
                                   reason, request_id, prev_hash, hash)
VALUES (%s, %s, 'user:999', 'campaign.approved', 'campaign', '7', 'DE', NULL, '{"state": "approved"}', '', '', %s, %s)
"""


@pytest.fixture
def two_roles():
    if settings.DATABASE_APP_ROLE == connection.settings_dict["USER"]:
        pytest.skip("one database role configured: the application role is the owner")


@pytest.fixture
def anchor_file(tmp_path):
    path = tmp_path / "anchors" / "audit.jsonl"
    with override_settings(CARTPORTAL_AUDIT_ANCHOR_FILE=str(path)):
        yield path


def _seed(n):
    return [record(actor="command:test", action="test.event", object_type="thing", object_id=i) for i in range(n)]


def _verify_command(capsys) -> dict:
    try:
        call_command("verify_audit")
    except CommandError:
        pass
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_application_role_cannot_back_date_or_place_a_row(two_roles):
    rows = _seed(3)
    back_dated = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    # The row the application role would like to see: placed at id 2, dated 2020, hashed the old way so it verifies.
    wanted = {
        "id": 2,
        "occurred_at": back_dated,
        "actor": "user:999",
        "action": "campaign.approved",
        "object_type": "campaign",
        "object_id": "7",
        "region_code": "DE",
        "before": None,
        "after": {"state": "approved"},
        "reason": "",
        "request_id": "",
        "prev_hash": rows[0].hash,
    }
    before_insert = dt.datetime.now(dt.UTC)
    with _app_role_connection() as app:
        app.execute(FORGED_INSERT, [2, back_dated, rows[0].hash, compute_hash(wanted)])
    stored = AuditEvent.objects.get(action="campaign.approved")
    assert stored.id == rows[-1].id + 1  # appended at the head, not squeezed in at 2
    assert stored.occurred_at >= before_insert  # the database's clock, not 2020
    assert stored.prev_hash == rows[-1].hash
    assert stored.hash != compute_hash(wanted)
    assert [r.id for r in AuditEvent.objects.order_by("id")] == [1, 2, 3, 4]
    report = verify_chain()
    assert (report.ok, report.rows) == (True, 4)


def test_application_role_cannot_read_the_key_or_call_the_mac(two_roles):
    _seed(1)
    with _app_role_connection() as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT key_inner FROM cartportal_private.audit_chain")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT cartportal_private.audit_mac('anything')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("ALTER TABLE cartportal_auditevent DISABLE TRIGGER cartportal_audit_assign_chain")
        # verifying is open to it, and reveals no hash
        checked, broken_at, _ = app.execute("SELECT * FROM cartportal_audit_verify(repeat('0', 64), NULL)").fetchone()
    assert (checked, broken_at) == (1, None)


def test_hash_is_an_hmac_with_the_owners_key_not_a_plain_digest():
    event = _seed(1)[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_inner FROM cartportal_private.audit_chain")
        key = bytes(byte ^ 0x36 for byte in cursor.fetchone()[0]).rstrip(b"\0")
        cursor.execute(
            "SELECT cartportal_private.audit_canonical(a) FROM cartportal_auditevent a WHERE id = %s", [event.id]
        )
        canonical = cursor.fetchone()[0].encode()
    assert len(key) == 32
    assert event.hash == hmac.new(key, canonical, hashlib.sha256).hexdigest()
    assert event.hash != hashlib.sha256(canonical).hexdigest()
    assert json.loads(canonical)["actor"] == "command:test"


def _owner_rewrites_from(row_id: int, reason: str) -> None:
    """What the owner could do with the key: edit a row and recompute the hashes of it and every later row."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cartportal_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE cartportal_auditevent SET reason = %s WHERE id = %s", [reason, row_id])
        cursor.execute("SELECT id FROM cartportal_auditevent WHERE id >= %s ORDER BY id", [row_id])
        for (later,) in cursor.fetchall():
            cursor.execute(
                "UPDATE cartportal_auditevent a SET prev_hash = (SELECT b.hash FROM cartportal_auditevent b "
                "WHERE b.id = a.id - 1) WHERE a.id = %s",
                [later],
            )
            cursor.execute(
                "UPDATE cartportal_auditevent a SET hash = "
                "cartportal_private.audit_mac(cartportal_private.audit_canonical(a)) WHERE a.id = %s",
                [later],
            )
        cursor.execute("ALTER TABLE cartportal_auditevent ENABLE TRIGGER USER")


def test_owner_rewrite_with_the_key_is_caught_by_the_anchor(anchor_file, capsys):
    rows = _seed(6)
    anchor = publish_anchor()
    assert anchor["id"] == rows[-1].id
    _owner_rewrites_from(rows[2].id, "rewritten")
    assert verify_chain(anchors=False).ok  # the chain alone cannot tell: every hash was recomputed
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, rows[-1].id)
    assert "rewritten" in report.reason
    output = _verify_command(capsys)
    assert output["ok"] is False and output["broken_at"] == rows[-1].id and output["anchors_checked"] == 1


def test_cut_tail_is_caught_by_the_anchor(anchor_file, capsys):
    rows = _seed(5)
    publish_anchor()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cartportal_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM cartportal_auditevent WHERE id > %s", [rows[2].id])
        cursor.execute("ALTER TABLE cartportal_auditevent ENABLE TRIGGER USER")
    assert verify_chain(anchors=False).ok  # what is left is a valid chain
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, rows[-1].id)
    assert "tail cut" in report.reason and f"ends at row {rows[2].id}" in report.reason
    # appending new rows after the cut does not hide it: the anchored id now holds another hash
    _seed(3)
    report = verify_chain()
    assert (report.ok, report.broken_at) == (False, rows[-1].id)
    assert "rewritten" in report.reason


def test_normal_path_verifies_with_anchors(anchor_file, capsys):
    _seed(3)
    assert publish_anchor() is not None
    assert publish_anchor() is None  # head unchanged: nothing appended
    _seed(2)
    assert publish_anchor()["id"] == 5
    assert len(anchor_file.read_text().splitlines()) == 2
    output = _verify_command(capsys)
    assert output == {"ok": True, "rows": 5, "keyed_from": 1, "anchors_checked": 2}


def test_a_damaged_anchor_file_is_reported(anchor_file, capsys):
    _seed(2)
    publish_anchor()
    with anchor_file.open("a") as damaged:
        damaged.write('{"id": 2, "ha\n')
    report = verify_chain()
    assert report.ok is False and "line 2" in report.reason
    assert _verify_command(capsys)["ok"] is False


def test_concurrent_inserts_by_the_application_role_stay_linear(two_roles):
    writers, per_writer = 6, 25
    errors = []

    def write(number):
        try:
            with _app_role_connection() as app:
                for _ in range(per_writer):
                    app.execute(
                        FORGED_INSERT.replace("'user:999'", "%s"),
                        [1, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), f"task:w{number}", "x", "y"],
                    )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert ids == list(range(1, writers * per_writer + 1))
    times = list(AuditEvent.objects.order_by("id").values_list("occurred_at", flat=True))
    assert times == sorted(times)
    report = verify_chain()
    assert (report.ok, report.rows) == (True, writers * per_writer)


@pytest.fixture
def anchor_env(tmp_path, monkeypatch):
    """The anchor file for this test, in the environment the worker process starts with and in this process."""
    path = tmp_path / "worker-anchors.jsonl"
    monkeypatch.setenv("CARTPORTAL_AUDIT_ANCHOR_FILE", str(path))
    with override_settings(CARTPORTAL_AUDIT_ANCHOR_FILE=str(path)):
        yield path


def test_beat_task_on_a_real_worker_publishes_the_head(anchor_env, celery_worker_process):
    from cartportal.audit.tasks import publish_audit_anchor

    rows = _seed(3)
    assert settings.CELERY_BEAT_SCHEDULE["audit-anchor"]["task"] == publish_audit_anchor.name
    published = publish_audit_anchor.delay().get(timeout=90)
    assert (published["id"], published["hash"]) == (rows[-1].id, rows[-1].hash)
    assert json.loads(anchor_env.read_text().splitlines()[-1])["hash"] == rows[-1].hash
    report = verify_chain()
    assert (report.ok, report.anchors) == (True, 1)
