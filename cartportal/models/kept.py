from __future__ import annotations

from django.db import models


class KeptResult(models.Model):
    """A computed result (a rollup, a published run's at-risk list) kept beside the shared cache, so that a restart
    of the cache server does not make the next page load compute it again (cartportal/kept.py)."""

    key = models.CharField(max_length=250, primary_key=True)
    value = models.BinaryField(help_text="The result, pickled as the shared cache keeps it")
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
