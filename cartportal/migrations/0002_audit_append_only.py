"""The database, not the application, keeps the audit trail append-only.

A trigger refuses UPDATE and DELETE for every role, and TRUNCATE unless the transaction set
`cartportal.allow_audit_truncate` (only the owner's flush does; the application role holds no TRUNCATE
right at all). The application role's grants on the table are SELECT and INSERT only (cartportal/apps.py).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION cartportal_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' AND current_setting('cartportal.allow_audit_truncate', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER cartportal_audit_no_update_delete BEFORE UPDATE OR DELETE ON cartportal_auditevent
  FOR EACH ROW EXECUTE FUNCTION cartportal_audit_refuse_change();
CREATE TRIGGER cartportal_audit_no_truncate BEFORE TRUNCATE ON cartportal_auditevent
  FOR EACH STATEMENT EXECUTE FUNCTION cartportal_audit_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS cartportal_audit_no_update_delete ON cartportal_auditevent;
DROP TRIGGER IF EXISTS cartportal_audit_no_truncate ON cartportal_auditevent;
DROP FUNCTION IF EXISTS cartportal_audit_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("cartportal", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
