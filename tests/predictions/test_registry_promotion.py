import pytest

from cartportal.models import AuditEvent
from predictions import registry
from predictions.models import ModelVersion
from tests.predictions.helpers import ACTOR, small_scorer


def _candidate(metric: float, fingerprint: str = "h1", kind: str = "abandonment"):
    return registry.register_candidate(
        actor=ACTOR,
        kind=kind,
        algorithm="logistic_regression",
        model_object=small_scorer(),
        features=["orders"],
        metrics={"roc_auc": metric},
        holdout={"fingerprint": fingerprint},
        card={"intended_use": "test"},
    )


@pytest.mark.django_db
def test_first_version_becomes_active_and_only_a_better_one_on_the_same_holdout_replaces_it():
    first = _candidate(0.80)
    assert registry.promote_if_better(actor=ACTOR, version=first, metric="roc_auc")
    worse, other_holdout, better = _candidate(0.79), _candidate(0.95, fingerprint="h2"), _candidate(0.85)
    assert not registry.promote_if_better(actor=ACTOR, version=worse, metric="roc_auc")
    assert not registry.promote_if_better(actor=ACTOR, version=other_holdout, metric="roc_auc")
    assert registry.promote_if_better(actor=ACTOR, version=better, metric="roc_auc")
    statuses = dict(ModelVersion.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "retired", worse.pk: "candidate", other_holdout.pk: "candidate", better.pk: "active"}
    refused = AuditEvent.objects.filter(action="model.promotion_refused").values_list("after", flat=True)
    assert any("different holdout" in after["reason"] for after in refused)


@pytest.mark.django_db
def test_lower_is_better_metrics_compare_the_other_way():
    first = _candidate(0.3)
    registry.promote_if_better(actor=ACTOR, version=first, metric="roc_auc", higher_is_better=False)
    assert registry.promote_if_better(actor=ACTOR, version=_candidate(0.2), metric="roc_auc", higher_is_better=False)


@pytest.mark.django_db
def test_rollback_is_one_audited_action_that_restores_the_previous_version():
    first, second = _candidate(0.80), _candidate(0.90)
    registry.promote_if_better(actor=ACTOR, version=first, metric="roc_auc")
    registry.promote_if_better(actor=ACTOR, version=second, metric="roc_auc")
    restored = registry.rollback(actor=ACTOR, kind="abandonment")
    assert restored.pk == first.pk
    assert registry.active_version("abandonment").pk == first.pk
    second.refresh_from_db()
    assert second.status == "retired"
    event = AuditEvent.objects.filter(action="model.rolled_back").get()
    assert event.before == {"active": second.pk} and event.after["active"] == first.pk


@pytest.mark.django_db
def test_rollback_without_an_earlier_version_says_why():
    registry.promote_if_better(actor=ACTOR, version=_candidate(0.8), metric="roc_auc")
    with pytest.raises(registry.RegistryError, match="no earlier"):
        registry.rollback(actor=ACTOR, kind="abandonment")


@pytest.mark.django_db
def test_load_active_verifies_the_checksum_and_returns_a_working_model():
    version = _candidate(0.8)
    registry.promote_if_better(actor=ACTOR, version=version, metric="roc_auc")
    assert len(version.checksum) == 64
    model = registry.load_active("abandonment")
    assert model.features == small_scorer().features
    ModelVersion.objects.filter(pk=version.pk).update(artifact=bytes(version.artifact)[:-1] + b"x")
    with pytest.raises(registry.ArtifactCorrupted):
        registry.load_active("abandonment")


@pytest.mark.django_db
def test_unknown_kind_is_refused_and_nothing_is_active_before_training():
    with pytest.raises(registry.RegistryError, match="Unknown model kind"):
        _candidate(0.8, kind="churn")
    with pytest.raises(registry.RegistryError, match="No active value model"):
        registry.load_active("value")
