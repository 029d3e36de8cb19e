"""Model artifacts are signed; the artifacts that exist now are signed here, if they still match their checksum
(an artifact that does not stays unsigned, so it is refused rather than blessed)."""

import hashlib

from django.db import migrations, models


def sign_existing(apps, schema_editor):
    from predictions.registry import artifact_signature

    ModelVersion = apps.get_model("predictions", "ModelVersion")
    for version in ModelVersion.objects.filter(signature="").only("pk", "kind", "artifact", "checksum").iterator():
        artifact = bytes(version.artifact or b"")
        if artifact and hashlib.sha256(artifact).hexdigest() == version.checksum:
            ModelVersion.objects.filter(pk=version.pk).update(
                signature=artifact_signature(version.pk, version.kind, artifact)
            )


class Migration(migrations.Migration):
    dependencies = [("predictions", "0004_recommendation_kind")]
    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="signature",
            field=models.CharField(
                blank=True,
                default="",
                help_text="HMAC-SHA256 of the version's id, kind and artifact with the artifact key (checked before loading)",
                max_length=64,
            ),
        ),
        migrations.RunPython(sign_existing, migrations.RunPython.noop),
    ]
