"""The audit recorder and the chain verifier.

Services call `record(...)` inside their own transaction, so an audit row exists exactly when the
change it describes was committed. The database places each row in the chain (migration 0009): a trigger
assigns its id (consecutive), its time, its previous hash and its hash, an HMAC keyed with a secret that only
the owner role can read; an advisory lock inside the trigger serialises writers so that the chain has one
order. Rows from before that migration carry an unkeyed SHA-256 (`compute_hash`). The head is published
outside the database on a schedule (`cartportal.audit.anchors`), so that a history rewritten by someone who
holds the key, or a cut tail, no longer matches what was published.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction

from cartportal import extensions
from cartportal.audit.anchors import check_anchors
from cartportal.models import AuditEvent

GENESIS = "0" * 64
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("cartportal_request_id", default="")

HASHED_FIELDS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "region_code",
    "before",
    "after",
    "reason",
    "request_id",
    "prev_hash",
)


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Audit rows written inside carry this request id (or Celery task id)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def actor_label(actor) -> str:
    """user:<id> for users, the string itself for 'task:…' / 'command:…' actors."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    label = getattr(actor, "label", None)
    if isinstance(label, str):
        return label
    if not getattr(actor, "is_authenticated", False):
        return "anonymous"
    token = getattr(actor, "partner_token", None)
    if token is not None:
        return f"user:{actor.pk}/token:{token.pk}"
    return f"user:{actor.pk}"


def normalise(value):
    """A JSON value whose text form is stable through a jsonb round trip (floats become strings)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set)):
        items = sorted(value, key=str) if isinstance(value, set) else value
        return [normalise(v) for v in items]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)


def _canonical(fields: dict) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["occurred_at"] = fields["occurred_at"].astimezone(dt.UTC).isoformat()
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(fields: dict) -> str:
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()


_INSERT = """
INSERT INTO cartportal_auditevent (id, occurred_at, prev_hash, hash, actor, action, object_type, object_id,
                                   region_code, before, after, reason, request_id)
VALUES (0, now(), '', '', %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)
RETURNING id, occurred_at, prev_hash, hash
"""


def _jsonb(value) -> str | None:
    return None if value is None else json.dumps(normalise(value), ensure_ascii=False)


# Audit actions that are news for someone (the e-mail notifications send soon after one; see extensions.news).
NEWS_ACTIONS = frozenset({"campaign.submit", "access.denied", "drift.computed"})


def record(
    *,
    actor,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    region_code: str = "",
    before=None,
    after=None,
    reason: str = "",
    request_id: str | None = None,
) -> AuditEvent:
    """Append one row; the database assigns its id, time, previous hash and hash (the zeros sent are overwritten)."""
    fields = {
        "actor": actor_label(actor),
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "region_code": region_code or "",
        "before": normalise(before),
        "after": normalise(after),
        "reason": reason or "",
        "request_id": request_id if request_id is not None else _request_id.get(),
    }
    values = [*(fields[name] for name in ("actor", "action", "object_type", "object_id", "region_code"))]
    values += [_jsonb(before), _jsonb(after), fields["reason"], fields["request_id"]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_INSERT, values)
        row_id, occurred_at, prev_hash, row_hash = cursor.fetchone()
    event = AuditEvent(id=row_id, occurred_at=occurred_at, prev_hash=prev_hash, hash=row_hash, **fields)
    event._state.adding = False
    event._state.db = connection.alias
    if action in NEWS_ACTIONS:
        extensions.news.send(sender=record, what=action)
    return event


@dataclass
class ChainReport:
    ok: bool
    rows: int
    broken_at: int | None = None
    reason: str = ""
    keyed_from: int | None = None
    anchors: int = 0


def verify_chain(batch_size: int = 5000, *, anchors: bool = True) -> ChainReport:
    """Walk the chain in id order; name the first row whose contents, predecessor or position is wrong.

    The unkeyed rows (before migration 0009) are checked here; the keyed ones by the database, which holds
    the key. Then every published anchor must still be in the chain with the same hash.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT cartportal_audit_keyed_from()")
        keyed_from = cursor.fetchone()[0]
    report, expected_prev, expected_id, unkeyed_rows = _verify_unkeyed(keyed_from, batch_size)
    if report is not None:
        report.keyed_from = keyed_from
        return report
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT checked, broken_at, reason FROM cartportal_audit_verify(%s, %s)", [expected_prev, expected_id]
        )
        checked, broken_at, reason = cursor.fetchone()
    rows = unkeyed_rows + checked
    if broken_at is not None:
        return ChainReport(False, rows, broken_at, reason, keyed_from)
    if not anchors:
        return ChainReport(True, rows, keyed_from=keyed_from)
    anchored = check_anchors()
    if not anchored.ok:
        return ChainReport(False, rows, anchored.broken_at, anchored.reason, keyed_from, anchored.checked)
    return ChainReport(True, rows, keyed_from=keyed_from, anchors=anchored.checked)


def _verify_unkeyed(keyed_from: int, batch_size: int) -> tuple[ChainReport | None, str, int | None, int]:
    expected_prev, expected_id, rows = GENESIS, None, 0
    values = AuditEvent.objects.filter(id__lt=keyed_from).order_by("id").values(*HASHED_FIELDS, "hash")
    for row in values.iterator(chunk_size=batch_size):
        rows += 1
        if expected_id is not None and row["id"] != expected_id:
            return (
                ChainReport(False, rows, row["id"], f"rows {expected_id}..{row['id'] - 1} are missing"),
                "",
                None,
                rows,
            )
        if row["prev_hash"] != expected_prev:
            reason = "its previous-hash does not match the row before it (deleted, inserted or moved)"
            return ChainReport(False, rows, row["id"], reason), "", None, rows
        if compute_hash(row) != row["hash"]:
            return ChainReport(False, rows, row["id"], "its contents do not match its hash (edited)"), "", None, rows
        expected_prev, expected_id = row["hash"], row["id"] + 1
    return None, expected_prev, expected_id, rows
