"""The audit recorder and the chain verifier.

Services call `record(...)` inside their own transaction, so an audit row exists exactly when the
change it describes was committed. Rows are chained: each row's hash covers its own fields and the
previous row's hash; ids are consecutive. An advisory lock serialises writers so that the chain has
one order.
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
from django.utils import timezone

from cartportal.models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 0x6361727461756474  # "cartaudt"
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
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
        fields = {
            "id": (last[0] + 1) if last else 1,
            "occurred_at": timezone.now(),
            "actor": actor_label(actor),
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "region_code": region_code or "",
            "before": normalise(before),
            "after": normalise(after),
            "reason": reason or "",
            "request_id": request_id if request_id is not None else _request_id.get(),
            "prev_hash": last[1] if last else GENESIS,
        }
        fields["hash"] = compute_hash(fields)
        return AuditEvent.objects.create(**fields)


@dataclass
class ChainReport:
    ok: bool
    rows: int
    broken_at: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 5000) -> ChainReport:
    """Walk the chain in id order; name the first row whose contents, predecessor or position is wrong."""
    expected_prev, expected_id, rows = GENESIS, None, 0
    values = AuditEvent.objects.order_by("id").values(*HASHED_FIELDS, "hash")
    for row in values.iterator(chunk_size=batch_size):
        rows += 1
        if expected_id is not None and row["id"] != expected_id:
            return ChainReport(False, rows, row["id"], f"rows {expected_id}..{row['id'] - 1} are missing")
        if row["prev_hash"] != expected_prev:
            return ChainReport(
                False,
                rows,
                row["id"],
                "its previous-hash does not match the row before it (deleted, inserted or moved)",
            )
        if compute_hash(row) != row["hash"]:
            return ChainReport(False, rows, row["id"], "its contents do not match its hash (edited)")
        expected_prev, expected_id = row["hash"], row["id"] + 1
    return ChainReport(True, rows)
