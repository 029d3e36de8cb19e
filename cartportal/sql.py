"""Raw SQL reads that return rows as dicts (the rollups are computed in PostgreSQL), and a cursor for the hottest
reads whose statements PostgreSQL keeps prepared."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorDebugWrapper
from psycopg.pq import Format

TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


def fetch_dicts(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# A threshold no statement reaches: only statements executed with prepare=True are prepared.
_EXPLICIT_ONLY = 2**31 - 1


class _PreparingCursor(psycopg.Cursor):
    """Server-side binding, and the statement prepared in the session on its first execution and reused after."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs a prepared statement as Django logs its own (psycopg keeps no text of a prepared execution)."""

    @contextmanager
    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        if use_last_executed_query and not many:
            sql = connection.ops.compose_sql(sql, params)
        with super().debug_sql(sql, params, use_last_executed_query=False, many=many):
            yield


@contextmanager
def prepared_cursor():
    """A cursor of the default connection whose statements PostgreSQL plans once per session and reuses: for reads
    run on nearly every partner request (the risk lookup, the customer list's insights), whose planning costs more
    than their execution. Django's own cursors bind parameters on the client, so PostgreSQL plans each of their
    statements anew. The cursor goes through Django's wrapping (execute wrappers, query logging, error
    translation). With `DB_PREPARED_STATEMENTS` off (or a connection that is not psycopg's) it is a plain cursor.
    psycopg deallocates its prepared statements on a rollback (a statement that fails is not kept); they end with
    the session."""
    enabled = getattr(settings, "DB_PREPARED_STATEMENTS", True)
    if enabled:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    raw = getattr(connection, "connection", None)
    if not enabled or not isinstance(raw, psycopg.Connection):
        with connection.cursor() as cursor:
            yield cursor
        return
    if raw.prepare_threshold is None:  # Django's default: psycopg prepares nothing, not even when asked
        raw.prepare_threshold = _EXPLICIT_ONLY
    with connection.wrap_database_errors:
        cursor = _PreparingCursor(raw)
        loader = raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        if connection.timezone != loader.timezone:  # as Django's own cursors do
            register_tzloader(connection.timezone, cursor)
        if connection.queries_logged:  # as _prepare_cursor, logging the statement with its values
            connection.validate_thread_sharing()
            wrapped = _PreparedDebugWrapper(cursor, connection)
        else:
            wrapped = connection._prepare_cursor(cursor)
    with wrapped:
        yield wrapped
