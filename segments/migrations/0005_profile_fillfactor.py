from django.db import migrations

# A rebuild updates every profile row in place; half of each page is kept free for the new versions, so they stay
# on their page and the indexes are not written (see segments.services.rebuild._write_profiles).
FILLFACTOR = "ALTER TABLE segments_customerprofile SET (fillfactor = 50)"
RESET = "ALTER TABLE segments_customerprofile RESET (fillfactor)"


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0004_profile_snapshots"),
    ]

    operations = [migrations.RunSQL(FILLFACTOR, RESET)]
