"""Login throttling (django-axes does the counting and the refusing): lockouts and their lifting are audited."""

from __future__ import annotations

from django.db import transaction

from cartportal.audit import record
from cartportal.errors import AppError


def record_lockout(sender, *, request=None, username: str = "", ip_address: str = "", **kwargs) -> None:
    """Receiver of axes' `user_locked_out`: one audit row per refused attempt while locked."""
    record(
        actor=f"address:{ip_address or 'unknown'}",
        action="auth.locked_out",
        object_type="user",
        object_id=username or "",
        after={"ip_address": ip_address or "", "path": getattr(request, "path", "")},
    )


def lockout_lift(*, actor, username: str = "", ip_address: str = "") -> int:
    """Lift the lockout of an account and/or an address (the failed attempts are forgotten); returns how many
    attempt records were removed. Audited, also when there was nothing to lift."""
    from axes.utils import reset

    if not username and not ip_address:
        raise AppError("Name the account (username) or the address (ip_address) to unlock.")
    with transaction.atomic():
        removed = 0
        if username:
            removed += reset(username=username)
        if ip_address:
            removed += reset(ip=ip_address)
        record(
            actor=actor,
            action="auth.lockout_lifted",
            object_type="user",
            object_id=username,
            after={"ip_address": ip_address, "attempts_removed": removed},
        )
    return removed
