"""The database, not the application, assigns each audit row's place in the chain.

A BEFORE INSERT trigger (SECURITY DEFINER, owned by the owner role) takes an advisory lock, then sets the row's
id (the head's id + 1), its time (the database clock), its previous hash (the head's hash) and its hash: an
HMAC-SHA256 of the row's canonical text keyed with a secret generated here, in a schema the application role
has no access to. Whatever id, time or hash the application sends is overwritten, so it cannot back-date a row,
squeeze one between two others or compute a hash that verifies. Rows written before this migration keep their
unkeyed SHA-256 hashes; `keyed_from` names the first keyed id. `cartportal_audit_verify` (callable by the
application role, it reveals no hash) walks the keyed part of the chain.
"""

from django.db import migrations

LOCK_KEY = 0x6361727461756474  # "cartaudt", the advisory lock the application used before

FORWARD = f"""
CREATE SCHEMA cartportal_private;
REVOKE ALL ON SCHEMA cartportal_private FROM PUBLIC;

CREATE TABLE cartportal_private.audit_chain (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  key_inner bytea NOT NULL,
  key_outer bytea NOT NULL,
  keyed_from bigint NOT NULL
);
REVOKE ALL ON cartportal_private.audit_chain FROM PUBLIC;

DO $$
DECLARE
  secret bytea;
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  -- 32 bytes from the server's strong random source (gen_random_uuid), zero-padded to SHA-256's block size.
  secret := sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text
                              || clock_timestamp()::text, 'UTF8')) || decode(repeat('00', 32), 'hex');
  inner_pad := secret;
  outer_pad := secret;
  FOR i IN 0..63 LOOP
    inner_pad := set_byte(inner_pad, i, get_byte(secret, i) # 54);
    outer_pad := set_byte(outer_pad, i, get_byte(secret, i) # 92);
  END LOOP;
  INSERT INTO cartportal_private.audit_chain (key_inner, key_outer, keyed_from)
  VALUES (inner_pad, outer_pad, coalesce((SELECT max(id) FROM public.cartportal_auditevent), 0) + 1);
END $$;

CREATE FUNCTION cartportal_private.audit_canonical(r public.cartportal_auditevent) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
    'id', r.id,
    'occurred_at', to_char(r.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'actor', r.actor, 'action', r.action, 'object_type', r.object_type, 'object_id', r.object_id,
    'region_code', r.region_code, 'before', r.before, 'after', r.after, 'reason', r.reason,
    'request_id', r.request_id, 'prev_hash', r.prev_hash
  )::text
$$;

CREATE FUNCTION cartportal_private.audit_mac(message text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT encode(sha256(c.key_outer || sha256(c.key_inner || convert_to(message, 'UTF8'))), 'hex')
  FROM cartportal_private.audit_chain c
$$;

CREATE FUNCTION cartportal_private.audit_assign_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  head_id bigint;
  head_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock({LOCK_KEY});
  SELECT a.id, a.hash INTO head_id, head_hash FROM public.cartportal_auditevent a ORDER BY a.id DESC LIMIT 1;
  NEW.id := coalesce(head_id, 0) + 1;
  NEW.occurred_at := clock_timestamp();
  NEW.prev_hash := coalesce(head_hash, repeat('0', 64));
  NEW.hash := cartportal_private.audit_mac(cartportal_private.audit_canonical(NEW));
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION cartportal_private.audit_canonical(public.cartportal_auditevent) FROM PUBLIC;
REVOKE ALL ON FUNCTION cartportal_private.audit_mac(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION cartportal_private.audit_assign_chain() FROM PUBLIC;

CREATE TRIGGER cartportal_audit_assign_chain BEFORE INSERT ON public.cartportal_auditevent
  FOR EACH ROW EXECUTE FUNCTION cartportal_private.audit_assign_chain();

CREATE FUNCTION public.cartportal_audit_keyed_from() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT keyed_from FROM cartportal_private.audit_chain
$$;

-- Walks the keyed rows in id order from `expected_prev` / `expected_id` (what the unkeyed rows before them end
-- with; a NULL id accepts any first id) and names the first row whose position, predecessor or contents is wrong.
CREATE FUNCTION public.cartportal_audit_verify(expected_prev text, expected_id bigint,
                                               OUT checked bigint, OUT broken_at bigint, OUT reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r public.cartportal_auditevent;
BEGIN
  checked := 0;
  FOR r IN SELECT * FROM public.cartportal_auditevent a
           WHERE a.id >= (SELECT c.keyed_from FROM cartportal_private.audit_chain c) ORDER BY a.id LOOP
    checked := checked + 1;
    IF expected_id IS NOT NULL AND r.id <> expected_id THEN
      broken_at := r.id;
      reason := format('rows %s..%s are missing', expected_id, r.id - 1);
      RETURN;
    END IF;
    IF r.prev_hash <> expected_prev THEN
      broken_at := r.id;
      reason := 'its previous-hash does not match the row before it (deleted, inserted or moved)';
      RETURN;
    END IF;
    IF r.hash <> cartportal_private.audit_mac(cartportal_private.audit_canonical(r)) THEN
      broken_at := r.id;
      reason := 'its contents do not match its hash (edited)';
      RETURN;
    END IF;
    expected_prev := r.hash;
    expected_id := r.id + 1;
  END LOOP;
END $$;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS cartportal_audit_assign_chain ON public.cartportal_auditevent;
DROP FUNCTION IF EXISTS public.cartportal_audit_verify(text, bigint);
DROP FUNCTION IF EXISTS public.cartportal_audit_keyed_from();
DROP SCHEMA IF EXISTS cartportal_private CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("cartportal", "0008_product_unit_cost")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
