"""Portal writes: recording audit-log exports, a person's own preferences and the home page's "last visit"."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from cartportal.audit import record
from cartportal.errors import AppError
from cartportal.models import UserPreference


def audit_export_record(*, actor, filters: dict, rows: int) -> None:
    """Reading the audit trail out of the portal is itself on the record."""
    record(actor=actor, action="audit.exported", object_type="audit log", after={"filters": filters, "rows": rows})


def preference_of(user) -> UserPreference:
    return UserPreference.objects.get_or_create(user=user)[0]


def home_visit_record(*, actor, now: dt.datetime | None = None) -> dt.datetime | None:
    """Move the actor's "last visit" to now and answer the one before (None on a first visit). A reading marker
    of the person's own, like a last-login time, so it writes no audit row."""
    with transaction.atomic():
        preference = UserPreference.objects.select_for_update().get_or_create(user=actor)[0]
        before = preference.home_seen_at
        preference.home_seen_at = now or timezone.now()
        preference.save(update_fields=["home_seen_at", "updated_at"])
    return before


def notifications_set(*, actor, email_notifications: bool) -> UserPreference:
    """Turn the actor's own e-mail notifications on or off. Turning them on starts from now: the first message holds
    what happens next, not the backlog."""
    if email_notifications and not (actor.email or "").strip():
        raise AppError("Your account has no e-mail address; ask an administrator to add one first.", "invalid")
    with transaction.atomic():
        preference = UserPreference.objects.select_for_update().get_or_create(user=actor)[0]
        before = preference.email_notifications
        if before == email_notifications:
            return preference
        preference.email_notifications = email_notifications
        if email_notifications:
            preference.notified_until = timezone.now()
        preference.save()
        record(
            actor=actor,
            action="notifications.changed",
            object_type="user",
            object_id=str(actor.pk),
            before={"email_notifications": before},
            after={"email_notifications": email_notifications},
        )
    return preference
