"""One authorization policy (`cartportal.access.authorize`) at the top of every service that changes global state:
an actor without the capability is refused with a 403-coded error, the refusal is audited, and nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cartportal import access
from cartportal.errors import Forbidden, status_for
from cartportal.jobs import job_create
from cartportal.models import AuditEvent, JobRun
from interventions import services as intervention_services
from interventions.models import KillSwitch
from interventions.uplift.outcomes import outcomes_uplift_train
from predictions import services
from predictions.drift import drift_compute
from predictions.models import DriftReport, ModelVersion, ScoringRun
from tests.predictions.helpers import active_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_world(world):
    first = active_model(auc=0.8)
    second = active_model(auc=0.9, seed=1)  # better on the same holdout: active, the first one retired
    stalled = ScoringRun.objects.create(
        model_version=second, kind="abandonment", state="running", region_ids=None, as_of=timezone.now()
    )
    ScoringRun.objects.filter(pk=stalled.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    world.versions = (first, second)
    world.stalled = ScoringRun.objects.get(pk=stalled.pk)
    world.job = job_create(kind="retrain", parameters={"kind": "abandonment"})
    return world


MODEL_SERVICES = {
    "model_activate": lambda w, actor: services.model_activate(actor=actor, version=w.versions[0], reason="test"),
    "model_rollback": lambda w, actor: services.model_rollback(actor=actor, kind="abandonment"),
    "retrain_start": lambda w, actor: services.retrain_start(actor=actor, kind="abandonment"),
    "retrain_run": lambda w, actor: services.retrain_run(actor=actor, job_id=w.job.pk, kind="abandonment"),
    "rescore_start": lambda w, actor: services.rescore_start(actor=actor, kind="abandonment", enqueue=False),
    "rescore_resume": lambda w, actor: services.rescore_resume(actor=actor, run=w.stalled),
    "resume_stalled_runs": lambda w, actor: services.resume_stalled_runs(actor=actor, older_than_seconds=60),
    "prune_runs": lambda w, actor: services.prune_runs(actor=actor, kind="abandonment", keep=0),
    "drift_compute": lambda w, actor: drift_compute(actor=actor, kind="abandonment", month=dt.date(2025, 1, 1)),
    "outcomes_uplift_train": lambda w, actor: outcomes_uplift_train(actor=actor, target="visited"),
}


def _state() -> tuple:
    """Everything those services could change."""
    return (
        sorted(ModelVersion.objects.values_list("pk", "status")),
        sorted(ScoringRun.objects.values_list("pk", "state")),
        JobRun.objects.count(),
        DriftReport.objects.count(),
        AuditEvent.objects.exclude(action="access.denied").count(),
    )


@pytest.mark.parametrize("service", sorted(MODEL_SERVICES))
def test_a_model_service_refuses_an_actor_who_may_not_manage_models(models_world, service):
    # a manager of a region, a role that reads every region, a partner, a model-level permission alone
    for persona in ("manager_a", "executive", "partner", "model_perm_only"):
        actor = getattr(models_world, persona)
        before = _state()
        with pytest.raises(Forbidden) as refused:
            MODEL_SERVICES[service](models_world, actor)
        assert refused.value.code == "forbidden" and status_for(refused.value.code) == 403
        assert _state() == before
        denial = AuditEvent.objects.filter(action="access.denied").latest("pk")
        assert denial.after == {"attempted": access.MANAGE_MODELS} and denial.actor == f"user:{actor.pk}"


def test_an_analyst_and_a_task_pass_the_policy(models_world):
    first, second = models_world.versions
    restored = services.model_rollback(actor=models_world.analyst_a, kind="abandonment")
    assert restored.pk == first.pk
    services.model_activate(actor=access.SystemActor("task:test"), version=second, reason="back")
    assert ModelVersion.objects.get(pk=second.pk).status == "active"
    job = services.retrain_start(actor=models_world.analyst_a, kind="abandonment")
    assert JobRun.objects.filter(pk=job.pk, kind="retrain").exists()


def test_the_kill_switch_refuses_everyone_but_executives(world):
    personas = ("manager_a", "analyst_a", "compliance", "partner")
    for persona in personas:
        with pytest.raises(Forbidden):
            intervention_services.kill_switch_set(actor=getattr(world, persona), engaged=True, reason="incident")
    assert not KillSwitch.objects.filter(engaged=True).exists()
    denials = AuditEvent.objects.filter(action="access.denied", after={"attempted": access.KILL_SWITCH})
    assert denials.count() == len(personas)
    intervention_services.kill_switch_set(actor=world.executive, engaged=True, reason="incident")
    assert KillSwitch.objects.get(region__isnull=True).engaged


def test_a_region_action_is_refused_like_a_missing_object(world):
    with pytest.raises(access.NotFoundOrForbidden):
        access.authorize(world.manager_a, action="change", region_id=world.region_b.pk, what="campaign")
    access.authorize(world.manager_a, action="change", region_id=world.region_a.pk, what="campaign")
    denial = AuditEvent.objects.filter(action="access.denied").get()
    assert denial.region_code == world.region_b.code and denial.object_type == "campaign"
