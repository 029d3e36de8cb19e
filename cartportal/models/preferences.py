from __future__ import annotations

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    """What one person chose for themselves: e-mail notifications (opt-in, off until they turn them on), and the
    two watermarks that make "new since" mean something: when they last opened their home page, and up to when
    their notifications have been sent."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    email_notifications = models.BooleanField(default=False)
    home_seen_at = models.DateTimeField(null=True, blank=True)
    notified_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"
