"""Announcements of the platform that the domains listen to (connected in their AppConfig.ready()), so that the
platform never imports a domain."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after an import's rows are committed: kind (the import kind), job_id.
import_finished = Signal()
