import pytest

from cartportal.models import AuditEvent
from predictions import registry
from predictions.models import ModelVersion
from tests.predictions.helpers import ACTOR, small_scorer


def _candidate(
    metric: float, fingerprint: str = "h1", kind: str = "abandonment", baseline: float = 0.5, remeasured=None
):
    extra = {} if remeasured is None else {registry.REMEASURED: remeasured}
    return registry.register_candidate(
        actor=ACTOR,
        kind=kind,
        algorithm="logistic_regression",
        model_object=small_scorer(),
        features=["orders"],
        metrics={"roc_auc": metric, "baseline": {"name": "logistic regression", "roc_auc": baseline}, **extra},
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
def test_a_trainer_that_re_measured_the_active_recipe_on_its_own_holdout_is_judged_against_that_figure():
    # the recommender's way: each retrain has a later holdout (another fingerprint) and re-fits the active settings
    registry.promote_if_better(actor=ACTOR, version=_candidate(0.80), metric="roc_auc")
    not_better = _candidate(0.84, fingerprint="h2", remeasured=0.86)
    assert not registry.promote_if_better(actor=ACTOR, version=not_better, metric="roc_auc")
    not_better.refresh_from_db()
    assert "re-measured on the same holdout" in not_better.refusal_reason and "0.86" in not_better.refusal_reason
    below_baseline = _candidate(0.84, fingerprint="h3", remeasured=0.70, baseline=0.9)
    assert not registry.promote_if_better(actor=ACTOR, version=below_baseline, metric="roc_auc")
    better = _candidate(0.84, fingerprint="h4", remeasured=0.83)
    assert registry.promote_if_better(actor=ACTOR, version=better, metric="roc_auc")
    assert registry.active_version("abandonment").pk == better.pk


@pytest.mark.django_db
def test_lower_is_better_metrics_compare_the_other_way():
    first = _candidate(0.3, baseline=0.4)
    registry.promote_if_better(actor=ACTOR, version=first, metric="roc_auc", higher_is_better=False)
    assert registry.promote_if_better(
        actor=ACTOR, version=_candidate(0.2, baseline=0.4), metric="roc_auc", higher_is_better=False
    )


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


# each kind's gate metric, how its trainer names its baseline, and a candidate value worse than that baseline
KINDS = [
    ("value", "poisson_deviance", "same as last period", 1.8, 2.1, 2.3),
    ("abandonment", "roc_auc", "logistic regression", 0.82, 0.80, 0.78),
    ("promotion", "hit_rate", "best-sellers", 0.30, 0.23, 0.20),
    ("uplift", "qini", "random targeting", 0.05, 0.0, -0.01),
]


def _kind_candidate(kind: str, metric: str, name: str, value: float, baseline: float | None, fingerprint="k1"):
    metrics = {metric: value}
    if baseline is not None:
        metrics["baseline"] = {"name": name, metric: baseline}
    return registry.register_candidate(
        actor=ACTOR,
        kind=kind,
        algorithm="test",
        model_object=small_scorer(),
        features=["orders"],
        metrics=metrics,
        holdout={"fingerprint": fingerprint},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("kind, metric, name, good, baseline, bad", KINDS)
def test_a_model_worse_than_its_baseline_is_never_activated(kind, metric, name, good, baseline, bad):
    higher_is_better = registry.GATE_METRICS[kind][1]
    assert registry.GATE_METRICS[kind][0] == metric
    # the first model of an empty registry too: worse than (or equal to) its baseline, it stays a candidate
    for value in (bad, baseline):
        refused = _kind_candidate(kind, metric, name, value, baseline)
        assert not registry.promote_if_better(
            actor=ACTOR, version=refused, metric=metric, higher_is_better=higher_is_better
        )
        refused.refresh_from_db()
        assert refused.status == "candidate" and f"does not beat the baseline ({name}" in refused.refusal_reason
    assert registry.active_version(kind) is None
    # without a baseline measured on its holdout, a model cannot show it beats one
    blind = _kind_candidate(kind, metric, name, good, None)
    assert not registry.promote_if_better(actor=ACTOR, version=blind, metric=metric, higher_is_better=higher_is_better)
    blind.refresh_from_db()
    assert "no baseline" in blind.refusal_reason
    # nor by hand: an analyst may activate a version over the active one, never one below its baseline
    with pytest.raises(registry.RegistryError, match="does not beat the baseline"):
        registry.activate(actor=ACTOR, version=refused, reason="try")
    good_version = _kind_candidate(kind, metric, name, good, baseline)
    assert registry.promote_if_better(
        actor=ACTOR, version=good_version, metric=metric, higher_is_better=higher_is_better
    )
    good_version.refresh_from_db()
    assert good_version.status == "active" and good_version.refusal_reason == ""
    # a later candidate beating the active one but not its own baseline is still refused
    step = 0.01 if higher_is_better else -0.01
    later = _kind_candidate(kind, metric, name, good + step, good + 2 * step)
    assert not registry.promote_if_better(actor=ACTOR, version=later, metric=metric, higher_is_better=higher_is_better)
    assert registry.active_version(kind).pk == good_version.pk
    assert AuditEvent.objects.filter(action="model.promotion_refused").count() == 4
