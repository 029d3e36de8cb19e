"""Model artifacts are pickles: the registry signs them with a key the database never sees and refuses, without
unpickling, any artifact that the database's application role (or anyone else) changed."""

import hashlib
import importlib
import pickle

import pytest
from django.apps import apps
from django.test import override_settings

from predictions import registry
from predictions.models import ModelVersion
from tests.cartportal.test_audit_protection import _app_role_connection
from tests.predictions.helpers import active_model, small_scorer

pytestmark = pytest.mark.django_db(transaction=True)


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _tamper_as_application_role(version_id: int, artifact: bytes) -> None:
    """What the application role may do: replace the bytes and fix up the checksum to match."""
    with _app_role_connection() as app:
        app.execute(
            "UPDATE predictions_modelversion SET artifact = %s, checksum = %s WHERE id = %s",
            [artifact, hashlib.sha256(artifact).hexdigest(), version_id],
        )


def test_registered_artifact_is_signed_and_loads():
    version = active_model("abandonment")
    assert len(version.signature) == 64
    assert version.signature == registry.artifact_signature(version.pk, "abandonment", bytes(version.artifact))
    assert registry.load_active("abandonment").features == small_scorer().features


def test_artifact_replaced_through_sql_is_refused_and_never_unpickled(tmp_path):
    version = active_model("abandonment")
    marker = tmp_path / "unpickled"
    _tamper_as_application_role(version.pk, pickle.dumps(_Payload(marker)))
    with pytest.raises(registry.ArtifactCorrupted, match="does not match its signature"):
        registry.load_active("abandonment")
    assert not marker.exists()
    # the same bytes through every loader of the active abandonment model
    from predictions.abandonment.services import latest_model

    with pytest.raises(registry.ArtifactCorrupted):
        latest_model()
    assert not marker.exists()


def test_unsigned_artifact_is_refused(tmp_path):
    version = active_model("abandonment")
    with _app_role_connection() as app:
        app.execute("UPDATE predictions_modelversion SET signature = '' WHERE id = %s", [version.pk])
    with pytest.raises(registry.ArtifactCorrupted, match="not signed"):
        registry.load_active("abandonment")


def test_a_signed_artifact_cannot_move_to_another_version():
    first = active_model("abandonment", seed=1)
    other = registry.register_candidate(
        actor="command:test",
        kind="abandonment",
        algorithm="logistic_regression",
        model_object=small_scorer(seed=2),
        features=["orders"],
        metrics={},
        holdout={},
    )
    with _app_role_connection() as app:
        app.execute(
            "UPDATE predictions_modelversion AS target SET artifact = source.artifact, checksum = source.checksum, "
            "signature = source.signature FROM predictions_modelversion AS source "
            "WHERE target.id = %s AND source.id = %s",
            [first.pk, other.pk],
        )
    with pytest.raises(registry.ArtifactCorrupted, match="signature"):
        registry.load_active("abandonment")


def test_another_key_refuses_the_artifact():
    active_model("abandonment")
    with override_settings(CARTPORTAL_ARTIFACT_KEY="another-key-0123456789"):
        with pytest.raises(registry.ArtifactCorrupted, match="another key"):
            registry.load_active("abandonment")


def test_migration_signs_existing_artifacts_that_match_their_checksum():
    good = active_model("abandonment")
    bad = active_model("value")
    ModelVersion.objects.filter(pk__in=[good.pk, bad.pk]).update(signature="")
    ModelVersion.objects.filter(pk=bad.pk).update(checksum="0" * 64)
    migration = importlib.import_module("predictions.migrations.0005_modelversion_signature")
    migration.sign_existing(apps, None)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.signature == registry.artifact_signature(good.pk, good.kind, bytes(good.artifact))
    assert bad.signature == ""
    registry.load_version(good)
    with pytest.raises(registry.ArtifactCorrupted, match="not signed"):
        registry.load_version(bad)
