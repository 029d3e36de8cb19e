"""The compliance audit viewer: filtered reads of the audit trail and the chain-verification status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from cartportal.audit import ChainReport, verify_chain
from cartportal.models import AuditEvent
from cartportal.selectors import may_read_audit, scoped_audit_events

CSV_COLUMNS = [
    "id",
    "occurred_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "region_code",
    "reason",
    "request_id",
    "prev_hash",
    "hash",
]


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    region: str = ""
    object: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in self.__dict__.items() if v}


def audit_events(user, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Newest first. Only Compliance (and superusers) read the trail; anyone else gets nothing.
    `object` matches `type:id`, a type, or an id; actor and action match from the start."""
    events = scoped_audit_events(user).order_by("-id")
    if filters.actor:
        events = events.filter(actor__startswith=filters.actor)
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.region:
        events = events.filter(region_code=filters.region)
    if filters.object:
        events = events.filter(_object_q(filters.object))
    if filters.date_from:
        events = events.filter(occurred_at__date__gte=filters.date_from)
    if filters.date_to:
        events = events.filter(occurred_at__date__lte=filters.date_to)
    return events


def _object_q(text: str) -> Q:
    kind, sep, ident = text.partition(":")
    if sep and kind and ident:
        return Q(object_type__iexact=kind.strip(), object_id=ident.strip())
    return Q(object_type__iexact=text.strip()) | Q(object_id=text.strip())


def chain_status(user) -> ChainReport | None:
    """Recompute the hash chain now (None for users who may not read the trail)."""
    return verify_chain() if may_read_audit(user) else None


def audit_csv_rows(events: QuerySet[AuditEvent]):
    for row in events.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
        yield [row[0], row[1].isoformat(), *row[2:]]
