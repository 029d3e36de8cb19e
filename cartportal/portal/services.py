"""Portal writes: recording audit-log exports."""

from __future__ import annotations

from cartportal.audit import record


def audit_export_record(*, actor, filters: dict, rows: int) -> None:
    """Reading the audit trail out of the portal is itself on the record."""
    record(actor=actor, action="audit.exported", object_type="audit log", after={"filters": filters, "rows": rows})
