from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CartportalConfig(AppConfig):
    name = "cartportal"
    verbose_name = "cartportal platform"

    def ready(self) -> None:
        post_migrate.connect(grant_application_role, sender=self)
        from axes.signals import user_locked_out

        from cartportal.api import (
            counts,
            principals,
            schema,  # noqa: F401  (registers the token scheme with the OpenAPI generator)
        )
        from cartportal.logins import record_lockout

        principals.connect_signals()
        counts.connect_signals()
        user_locked_out.connect(record_lockout, dispatch_uid="cartportal.audit_lockout")


def grant_application_role(sender, using, **kwargs) -> None:
    """After every migrate (run as the owner), give the application role its rights.

    It gets ordinary rights on every table except the audit table, where it may only SELECT and
    INSERT. This is infrastructure, not business logic, which is why it lives in a signal.
    """
    from django.conf import settings
    from django.db import connections

    connection = connections[using]
    role = settings.DATABASE_APP_ROLE
    if not role or role == connection.settings_dict.get("USER"):
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return
        quoted = connection.ops.quote_name(role)
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
        cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON cartportal_auditevent FROM {quoted}")
