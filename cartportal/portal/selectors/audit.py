"""The compliance audit viewer: filtered reads of the audit trail and the chain-verification status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from cartportal.audit import ChainReport, verify_chain
from cartportal.models import AuditEvent
from cartportal.people import actor_for_username, actor_names
from cartportal.selectors import may_read_audit, scoped_audit_events

CSV_COLUMNS = [
    "id",
    "occurred_at",
    "actor",
    "actor_name",
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
        events = events.filter(_actor_q(filters.actor))
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


def _actor_q(text: str) -> Q:
    """A username (`manager_de`) finds that user's rows, with or without a partner token; anything else
    (`user:7`, `task:`, `command:import`) matches from the start."""
    text = text.strip()
    if ":" not in text and (actor := actor_for_username(text)):
        return Q(actor=actor) | Q(actor__startswith=f"{actor}/")
    return Q(actor__startswith=text)


def _type_q(kind: str) -> Q:
    # Rows name types with their app (`interventions.campaign`); people type the short name (`campaign`).
    kind = kind.strip()
    return Q(object_type__iexact=kind) | Q(object_type__iendswith=f".{kind}")


def _object_q(text: str) -> Q:
    kind, sep, ident = text.partition(":")
    if sep and kind and ident:
        return _type_q(kind) & Q(object_id=ident.strip())
    return _type_q(text) | Q(object_id=text.strip())


def with_actor_names(events) -> list[AuditEvent]:
    """The events with `actor_name` set: the username (and full name) behind `user:<id>`."""
    events = list(events)
    names = actor_names(e.actor for e in events)
    for event in events:
        event.actor_name = names[event.actor]
    return events


def chain_status(user) -> ChainReport | None:
    """Recompute the hash chain now (None for users who may not read the trail)."""
    return verify_chain() if may_read_audit(user) else None


def audit_csv_rows(events: QuerySet[AuditEvent]):
    columns = [c for c in CSV_COLUMNS if c != "actor_name"]
    batch: list[tuple] = []
    for row in events.values_list(*columns).iterator(chunk_size=2000):
        batch.append(row)
        if len(batch) == 2000:
            yield from _named_rows(batch)
            batch = []
    yield from _named_rows(batch)


def _named_rows(rows: list[tuple]):
    names = actor_names(r[2] for r in rows)
    for row in rows:
        yield [row[0], row[1].isoformat(), row[2], names[row[2]], *row[3:]]
