"""Notifications as events happen: an event someone may be told about (a campaign submitted for approval, a job
that failed, an import that set rows aside, an access denial, a drift report; the core announces it with the
`cartportal.extensions.news` signal) asks the worker to send the e-mail notifications shortly after it commits,
instead of waiting for the next scheduled run.

One send covers every event of a burst: the first event takes a short lock in the cache and queues the send
CARTPORTAL_NOTIFY_DELAY_SECONDS later; events before it runs are in it. Nothing is queued while nobody has opted
in. A broker that cannot be reached loses nothing: the scheduled run (CARTPORTAL_NOTIFY_MINUTES) sends it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

LOCK_KEY = "portal:notify-soon"


def on_news(sender, **kwargs) -> None:
    """Receiver of `cartportal.extensions.news` (connected in the portal's AppConfig.ready())."""
    notify_soon()


def notify_soon() -> None:
    """Send the e-mail notifications soon after the current transaction commits (see the module docstring)."""
    if settings.CARTPORTAL_NOTIFY_DELAY_SECONDS < 0:
        return
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    from cartportal.models import UserPreference
    from cartportal.portal.tasks import send_notifications

    try:
        if not UserPreference.objects.filter(email_notifications=True).exists():
            return
        delay = settings.CARTPORTAL_NOTIFY_DELAY_SECONDS
        if not cache.add(LOCK_KEY, 1, timeout=max(delay, 1)):
            return  # a send is already queued and will include this event
        send_notifications.apply_async(countdown=delay)
    except Exception as exc:  # the event itself must not fail because the queue or cache is away
        log.warning("could not queue the e-mail notifications now (the schedule sends them later): %s", exc)
