import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cartportal", "0009_audit_chain_in_database")]

    operations = [
        migrations.CreateModel(
            name="ErasedCustomer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "key_hash",
                    models.CharField(help_text="HMAC-SHA256 of the shop's customer id", max_length=64, unique=True),
                ),
                ("erased_at", models.DateTimeField()),
                (
                    "region",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="cartportal.region",
                    ),
                ),
            ],
        ),
    ]
