"""PostgreSQL backend whose flush may empty the append-only audit table.

The audit table refuses TRUNCATE through a trigger unless the transaction has set
`cartportal.allow_audit_truncate`. Only `manage.py flush` (and the test suite's flush between
transactional tests) sets it, and only a role that holds TRUNCATE on the table (the owner, who could
drop the trigger anyway) gets that far: the application role has no TRUNCATE privilege at all.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list):
        sql_list = ["SET LOCAL cartportal.allow_audit_truncate = 'on'", *sql_list]
        return super().execute_sql_flush(sql_list)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
