"""The model registry: every trained model is a ModelVersion; only a better one becomes active.

First gate, for every kind and also for the first model of an empty registry: the candidate must beat a simple
baseline measured by its trainer on the same holdout. A trainer reports it in its metrics as
``metrics["baseline"] = {"name": "logistic regression", "<metric>": value, ...}`` (value: "same as last period",
abandonment: a logistic regression, promotions: the region's best-sellers, uplift: random targeting). A candidate
without one, or that does not beat it, stays a candidate and its ``refusal_reason`` says why.

Second gate: a candidate is compared with the active version of its kind on the same holdout: either the trainer
re-fitted the active version's recipe on the candidate's holdout (`active_on_this_holdout`, the recommender does),
or both were measured on the same holdout (same fingerprint); a candidate measured on a different holdout is never
promoted over an active version, because the two numbers would not be comparable. Rollback re-activates the most
recently retired version in one action.
Every change is audited inside its transaction.

Artifacts are pickles, and unpickling runs code, while the application's database role may write the table. So
each artifact is signed (HMAC-SHA256 of the version's id, kind and bytes) with a key the database never sees
(`CARTPORTAL_ARTIFACT_KEY`, else derived from `SECRET_KEY`), and `load_version` checks the signature before it
unpickles anything: an unsigned or altered artifact is refused (ArtifactCorrupted) and never unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cartportal.audit import actor_label, record
from cartportal.errors import AppError

from .models import Kind, ModelVersion

# kind -> (the holdout metric a version is judged on, higher is better): the gate of a hand activation
GATE_METRICS: dict[str, tuple[str, bool]] = {
    "value": ("poisson_deviance", False),
    "abandonment": ("roc_auc", True),
    "uplift": ("qini", True),
    "promotion": ("hit_rate", True),
}


class RegistryError(AppError):
    """A registry action that cannot be done in the current state (clear message for the user)."""

    default_code = "conflict"


class ArtifactCorrupted(RegistryError):
    """The stored artifact is unsigned or no longer matches its signature or checksum: it is not loaded."""


log = logging.getLogger(__name__)


def serialise(model_object) -> bytes:
    return pickle.dumps(model_object, protocol=pickle.HIGHEST_PROTOCOL)


def checksum_of(artifact: bytes) -> str:
    return hashlib.sha256(artifact).hexdigest()


def _artifact_key() -> bytes:
    configured = getattr(settings, "CARTPORTAL_ARTIFACT_KEY", "")
    if configured:
        return configured.encode()
    return hashlib.sha256(b"cartportal model artifact signing\0" + settings.SECRET_KEY.encode()).digest()


def artifact_signature(version_id: int, kind: str, artifact: bytes) -> str:
    """HMAC-SHA256 over the version's id and kind and the artifact, so that no artifact moves to another version."""
    message = f"cartportal-model-artifact:{version_id}:{kind}:".encode() + bytes(artifact)
    return hmac.new(_artifact_key(), message, hashlib.sha256).hexdigest()


def register_candidate(
    *,
    actor,
    kind: str,
    algorithm: str,
    model_object,
    features: list,
    metrics: dict,
    holdout: dict,
    window_start=None,
    window_end=None,
    card: dict | None = None,
    cutoff=None,
) -> ModelVersion:
    if kind not in Kind.values:
        raise RegistryError(f"Unknown model kind {kind!r}; expected one of {', '.join(Kind.values)}.", code="invalid")
    artifact = serialise(model_object)
    with transaction.atomic():
        version = ModelVersion.objects.create(
            kind=kind,
            algorithm=algorithm,
            window_start=window_start,
            window_end=window_end,
            cutoff=cutoff or window_end,
            features=list(features),
            metrics=dict(metrics),
            holdout=dict(holdout or {}),
            artifact=artifact,
            checksum=checksum_of(artifact),
            card=dict(card or {}),
            trained_by=actor_label(actor),
        )
        version.signature = artifact_signature(version.pk, kind, artifact)
        version.save(update_fields=["signature"])
        record(
            actor=actor,
            action="model.registered",
            object_type="model_version",
            object_id=version.pk,
            after={"kind": kind, "algorithm": algorithm, "checksum": version.checksum, "metrics": metrics},
        )
    return version


def register_trained(*, actor, kind: str, trained, metric: str, higher_is_better: bool = True):
    """Register a trained model (anything shaped like scoring.training.TrainedModel) as a candidate and promote it
    when it beats the active version on the same holdout. Returns (version, promoted)."""
    version = register_candidate(
        actor=actor,
        kind=kind,
        algorithm=trained.algorithm,
        model_object=trained.scorer,
        features=trained.features,
        metrics=trained.metrics,
        holdout=trained.holdout,
        window_start=trained.window_start,
        window_end=trained.window_end,
        card=trained.card,
    )
    promoted = promote_if_better(actor=actor, version=version, metric=metric, higher_is_better=higher_is_better)
    version.refresh_from_db()
    return version, promoted


def active_version(kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, status=ModelVersion.Status.ACTIVE).first()


def _metric(version: ModelVersion, metric: str) -> float | None:
    value = (version.metrics or {}).get(metric)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def baseline_gap(candidate: ModelVersion, metric: str, higher_is_better: bool) -> str:
    """Why the candidate does not beat its own baseline on its holdout: '' means it does."""
    new = _metric(candidate, metric)
    if new is None:
        return f"has no {metric} metric on its holdout"
    baseline = (candidate.metrics or {}).get("baseline")
    if not isinstance(baseline, dict) or _number(baseline.get(metric)) is None:
        return f"no baseline {metric} was measured on its holdout, so it cannot show that it beats a simple model"
    old, name = _number(baseline.get(metric)), baseline.get("name", "baseline")
    better = new > old if higher_is_better else new < old
    return "" if better else f"{metric} {new:.4g} does not beat the baseline ({name}: {old:.4g}) on the same holdout"


def _number(value) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


REMEASURED = "active_on_this_holdout"  # a trainer's figure for the active version's recipe re-fitted on its holdout


def compare(candidate: ModelVersion, active: ModelVersion | None, metric: str, higher_is_better: bool) -> str:
    """Why the candidate would (or would not) replace the active version: '' means it wins.

    The two figures must come from the same holdout: either the candidate's trainer re-fitted the active version's
    recipe on the candidate's own (later) holdout and reported it as `active_on_this_holdout`, or both versions
    were measured on the same holdout (same fingerprint)."""
    if active is None:
        return ""
    new = _metric(candidate, metric)
    if new is None:
        return f"has no {metric} metric"
    remeasured = _number((candidate.metrics or {}).get(REMEASURED))
    if remeasured is not None:
        old, whose = remeasured, "the active version's, re-measured on the same holdout,"
    elif candidate.holdout_fingerprint != active.holdout_fingerprint or not candidate.holdout_fingerprint:
        return "measured on a different holdout than the active version"
    else:
        old, whose = _metric(active, metric), "the active version's"
        if old is None:
            return ""
    better = new > old if higher_is_better else new < old
    return "" if better else f"{metric} {new:.4g} does not beat {whose} {old:.4g}"


def promote_if_better(*, actor, version: ModelVersion, metric: str, higher_is_better: bool = True) -> bool:
    """The one promotion gate: the candidate beats its own baseline and the active version on the same holdout."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        active = ModelVersion.objects.select_for_update().filter(kind=version.kind, status="active").first()
        if active is not None and active.pk == version.pk:
            return True
        reason = baseline_gap(version, metric, higher_is_better) or compare(version, active, metric, higher_is_better)
        if reason:
            version.refusal_reason = reason
            version.save(update_fields=["refusal_reason"])
            record(
                actor=actor,
                action="model.promotion_refused",
                object_type="model_version",
                object_id=version.pk,
                after={"metric": metric, "reason": reason, "active": active.pk if active else None},
            )
            return False
        _activate(actor=actor, version=version, previous=active, action="model.activated", reason=metric)
    return True


def activate(*, actor, version: ModelVersion, reason: str = "") -> ModelVersion:
    """Make a version active by hand (an analyst's decision, audited with the reason), even over a better active
    one; never a version that does not beat its own baseline."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status == ModelVersion.Status.ACTIVE:
            raise RegistryError("This version is already active.")
        gap = baseline_gap(version, *GATE_METRICS[version.kind]) if version.kind in GATE_METRICS else ""
        if gap:
            raise RegistryError(f"This version cannot be activated: {gap}.")
        active = ModelVersion.objects.select_for_update().filter(kind=version.kind, status="active").first()
        _activate(actor=actor, version=version, previous=active, action="model.activated_manually", reason=reason)
    return version


def rollback(*, actor, kind: str) -> ModelVersion:
    """Retire the active version and re-activate the one that was active before it."""
    with transaction.atomic():
        active = ModelVersion.objects.select_for_update().filter(kind=kind, status="active").first()
        if active is None:
            raise RegistryError(f"No active {kind} model to roll back.")
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(kind=kind, status=ModelVersion.Status.RETIRED, activated_at__isnull=False)
            .exclude(pk=active.pk)
            .order_by("-retired_at", "-pk")
            .first()
        )
        if previous is None:
            raise RegistryError(f"There is no earlier {kind} version to roll back to.")
        _activate(actor=actor, version=previous, previous=active, action="model.rolled_back", reason="rollback")
    return previous


def _activate(*, actor, version: ModelVersion, previous: ModelVersion | None, action: str, reason: str) -> None:
    now = timezone.now()
    if previous is not None:
        previous.status = ModelVersion.Status.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["status", "retired_at"])
    version.status = ModelVersion.Status.ACTIVE
    version.activated_at = now
    version.refusal_reason = ""
    version.save(update_fields=["status", "activated_at", "refusal_reason"])
    record(
        actor=actor,
        action=action,
        object_type="model_version",
        object_id=version.pk,
        before={"active": previous.pk if previous else None},
        after={"active": version.pk, "kind": version.kind},
        reason=reason,
    )


def load_version(version: ModelVersion):
    """The model object of `version`, unpickled only after its signature and checksum are verified."""
    artifact = bytes(version.artifact)
    if not version.signature:
        _refuse(version, "its artifact is not signed")
    if not hmac.compare_digest(artifact_signature(version.pk, version.kind, artifact), version.signature):
        _refuse(
            version,
            "its artifact does not match its signature (changed outside the registry, or signed with another key)",
        )
    if checksum_of(artifact) != version.checksum:
        _refuse(version, "its artifact does not match its checksum")
    return pickle.loads(artifact)  # signed by this registry with a key the database never holds


def _refuse(version: ModelVersion, why: str):
    log.error("model version %s (%s) refused: %s", version.pk, version.kind, why)
    raise ArtifactCorrupted(f"Model version {version.pk} ({version.kind}): {why}; refusing to load it.")


def load_active_version(kind: str):
    """(version, model object) of the active version of `kind`, checksum verified."""
    version = active_version(kind)
    if version is None:
        raise RegistryError(f"No active {kind} model yet: train one and promote it first.")
    return version, load_version(version)


def load_active(kind: str):
    """The model object of the active version of `kind`, checksum verified."""
    return load_active_version(kind)[1]
