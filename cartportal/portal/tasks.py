"""Thin Celery tasks of the composition layer."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portal.send_notifications")
def send_notifications() -> dict:
    """Beat-scheduled: e-mail every opted-in person what is new for them (see `cartportal.portal.notifications`)."""
    from cartportal.access import SystemActor
    from cartportal.portal.notifications import notifications_send

    return notifications_send(actor=SystemActor("task:notify"))
