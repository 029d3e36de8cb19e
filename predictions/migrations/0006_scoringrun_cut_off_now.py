from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0005_modelversion_signature"),
    ]

    operations = [
        migrations.AddField(
            model_name="scoringrun",
            name="cut_off_now",
            field=models.BooleanField(
                default=False,
                help_text="Scored at the time it started: features read from the per-customer order aggregates",
            ),
        ),
    ]
