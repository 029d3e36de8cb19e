import django.contrib.postgres.fields
from django.db import migrations, models

# Refresh the aggregates of the given customers from their orders, inside the caller's transaction. The customers'
# rows are locked first (FOR NO KEY UPDATE: order inserts, which only take KEY SHARE for the foreign key, go on), so
# two transactions refreshing the same customer take turns, and the statements after the lock read with a fresh
# snapshot that holds what the other one committed.
REFRESH_FUNCTION = """
CREATE OR REPLACE FUNCTION cartportal_refresh_customer_history(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM cartportal_customer WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    DELETE FROM cartportal_customerhistory h
    WHERE h.customer_id = ANY(ids)
      AND NOT EXISTS (
          SELECT 1 FROM cartportal_order o WHERE o.customer_id = h.customer_id AND o.region_id = h.region_id
      );
    INSERT INTO cartportal_customerhistory (
        customer_id, region_id, first_order_at, last_order_at, orders, spend, net_spend, first_purchase_at,
        last_purchase_at, purchase_days, cancelled, late_deliveries, last_late_delivery_at, recent_placed,
        recent_totals)
    SELECT customer_id, region_id,
           MIN(placed_at), MAX(placed_at),
           COUNT(*) FILTER (WHERE kept),
           SUM(total) FILTER (WHERE kept),
           SUM(CASE WHEN kept THEN total WHEN total < 0 THEN total ELSE 0 END),
           MIN(placed_at) FILTER (WHERE kept),
           MAX(placed_at) FILTER (WHERE kept),
           COUNT(DISTINCT date_trunc('day', placed_at)) FILTER (WHERE kept),
           COUNT(*) FILTER (WHERE NOT kept),
           COUNT(*) FILTER (WHERE delivered_at > promised_at),
           MAX(delivered_at) FILTER (WHERE delivered_at > promised_at),
           COALESCE(ARRAY_AGG(placed_at ORDER BY placed_at, id) FILTER (WHERE recent), '{}'),
           COALESCE(ARRAY_AGG(total ORDER BY placed_at, id) FILTER (WHERE recent), '{}')
    FROM (
        SELECT o.id, o.customer_id, o.region_id, o.placed_at, o.total, o.promised_at, o.delivered_at, o.kept,
               o.kept AND o.placed_at >= MAX(o.placed_at) FILTER (WHERE o.kept)
                   OVER (PARTITION BY o.customer_id, o.region_id) - interval '91 days' AS recent
        FROM (
            SELECT id, customer_id, region_id, placed_at, total, promised_at, delivered_at,
                   status NOT IN ('cancelled', 'returned') AS kept
            FROM cartportal_order
            WHERE customer_id = ANY(ids)
        ) o
    ) o
    GROUP BY customer_id, region_id
    ON CONFLICT (customer_id, region_id) DO UPDATE SET
        first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,
        orders = EXCLUDED.orders, spend = EXCLUDED.spend, net_spend = EXCLUDED.net_spend,
        first_purchase_at = EXCLUDED.first_purchase_at, last_purchase_at = EXCLUDED.last_purchase_at,
        purchase_days = EXCLUDED.purchase_days, cancelled = EXCLUDED.cancelled,
        late_deliveries = EXCLUDED.late_deliveries, last_late_delivery_at = EXCLUDED.last_late_delivery_at,
        recent_placed = EXCLUDED.recent_placed, recent_totals = EXCLUDED.recent_totals;
END
$$;
"""

# One statement-level trigger per kind of write (PostgreSQL gives transition tables to single-event triggers only):
# the customers of the rows written, before and after, are refreshed once per statement.
TRIGGER_FUNCTIONS = """
CREATE OR REPLACE FUNCTION cartportal_order_history_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids bigint[];
BEGIN
    SELECT array_agg(DISTINCT customer_id) INTO ids FROM new_rows WHERE customer_id IS NOT NULL;
    IF ids IS NOT NULL THEN PERFORM cartportal_refresh_customer_history(ids); END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION cartportal_order_history_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids bigint[];
BEGIN
    SELECT array_agg(DISTINCT customer_id) INTO ids FROM old_rows WHERE customer_id IS NOT NULL;
    IF ids IS NOT NULL THEN PERFORM cartportal_refresh_customer_history(ids); END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION cartportal_order_history_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids bigint[];
BEGIN
    SELECT array_agg(DISTINCT customer_id) INTO ids
    FROM (SELECT customer_id FROM new_rows UNION SELECT customer_id FROM old_rows) changed
    WHERE customer_id IS NOT NULL;
    IF ids IS NOT NULL THEN PERFORM cartportal_refresh_customer_history(ids); END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER order_history_inserted AFTER INSERT ON cartportal_order
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cartportal_order_history_inserted();
CREATE TRIGGER order_history_deleted AFTER DELETE ON cartportal_order
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cartportal_order_history_deleted();
CREATE TRIGGER order_history_updated AFTER UPDATE ON cartportal_order
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cartportal_order_history_updated();
"""

BACKFILL = "SELECT cartportal_refresh_customer_history(ARRAY(SELECT DISTINCT customer_id FROM cartportal_order))"

DROP = """
DROP TRIGGER IF EXISTS order_history_inserted ON cartportal_order;
DROP TRIGGER IF EXISTS order_history_deleted ON cartportal_order;
DROP TRIGGER IF EXISTS order_history_updated ON cartportal_order;
DROP FUNCTION IF EXISTS cartportal_order_history_inserted();
DROP FUNCTION IF EXISTS cartportal_order_history_deleted();
DROP FUNCTION IF EXISTS cartportal_order_history_updated();
DROP FUNCTION IF EXISTS cartportal_refresh_customer_history(bigint[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cartportal", "0010_erasedcustomer"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerHistory",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("customer_id", models.BigIntegerField()),
                ("region_id", models.BigIntegerField()),
                ("first_order_at", models.DateTimeField(help_text="First order of any status")),
                ("last_order_at", models.DateTimeField(help_text="Last order of any status")),
                ("orders", models.IntegerField(help_text="Orders not cancelled or returned")),
                (
                    "spend",
                    models.DecimalField(
                        decimal_places=2, help_text="Their total; null if none", max_digits=30, null=True
                    ),
                ),
                (
                    "net_spend",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="Spend plus the negative totals of cancellation and return documents",
                        max_digits=30,
                    ),
                ),
                ("first_purchase_at", models.DateTimeField(null=True)),
                ("last_purchase_at", models.DateTimeField(null=True)),
                ("purchase_days", models.IntegerField(help_text="Days with an order not cancelled or returned")),
                ("cancelled", models.IntegerField(help_text="Orders cancelled or returned")),
                ("late_deliveries", models.IntegerField(help_text="Orders delivered after their promised date")),
                ("last_late_delivery_at", models.DateTimeField(null=True)),
                (
                    "recent_placed",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.DateTimeField(),
                        default=list,
                        help_text="Purchases within 91 days before the last purchase",
                        size=None,
                    ),
                ),
                (
                    "recent_totals",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.DecimalField(decimal_places=2, max_digits=14), default=list, size=None
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("customer_id", "region_id"), name="customer_history_key")
                ],
            },
        ),
        migrations.RunSQL(REFRESH_FUNCTION + TRIGGER_FUNCTIONS + BACKFILL, DROP),
    ]
