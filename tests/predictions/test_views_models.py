import pytest
from django.test import Client
from django.urls import reverse

from cartportal.models import AuditEvent
from predictions import registry
from predictions.models import ModelVersion, ScoringRun
from tests.factories import UserFactory
from tests.predictions.helpers import active_model, many_customers


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def analyst(world):
    return world.analyst_a


@pytest.mark.django_db
def test_models_page_lists_versions_with_metrics_and_buttons_for_analysts_only(world, analyst):
    version = active_model(auc=0.81)
    page = _client(analyst).get(reverse("predictions:models")).content.decode()
    assert f"v{version.pk}" in page and "roc_auc 0.81" in page and "Roll back" in page
    manager_page = _client(world.manager_a).get(reverse("predictions:models")).content.decode()
    assert f"v{version.pk}" in manager_page and "Roll back" not in manager_page


@pytest.mark.django_db
def test_models_page_is_helpful_when_empty_and_exports_csv(world):
    page = _client(world.manager_a).get(reverse("predictions:models")).content.decode()
    assert "No model has been trained yet" in page
    active_model()
    export = _client(world.manager_a).get(reverse("predictions:models") + "?format=csv")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,kind,algorithm,status") and len(lines) == 2


@pytest.mark.django_db
def test_analyst_rolls_back_and_activates_with_audit(world, analyst):
    first = active_model(auc=0.8)
    second = active_model(auc=0.9)
    response = _client(analyst).post(reverse("predictions:model-rollback", args=["abandonment"]))
    assert response.status_code == 302
    assert registry.active_version("abandonment").pk == first.pk
    _client(analyst).post(reverse("predictions:model-activate", args=[second.pk]), {"reason": "checked by hand"})
    assert registry.active_version("abandonment").pk == second.pk
    event = AuditEvent.objects.get(action="model.activated_manually")
    assert event.actor == f"user:{analyst.pk}" and event.reason == "checked by hand"


@pytest.mark.django_db
def test_managers_cannot_change_models_and_errors_are_shown_not_raised(world, analyst):
    version = active_model()
    assert _client(world.manager_a).post(reverse("predictions:model-rollback", args=["abandonment"])).status_code == 403
    response = _client(analyst).post(reverse("predictions:model-rollback", args=["abandonment"]), follow=True)
    assert response.status_code == 200 and "no earlier abandonment version" in response.content.decode()
    assert ModelVersion.objects.get(pk=version.pk).status == "active"
    assert _client(analyst).post(reverse("predictions:rescore", args=["nonsense"])).status_code == 404


@pytest.mark.django_db
def test_rescore_button_starts_a_run_with_a_job(world, analyst):
    many_customers([world.region_a, world.region_b], 30)
    active_model()
    response = _client(analyst).post(reverse("predictions:rescore", args=["abandonment"]), follow=True)
    run = ScoringRun.objects.get()
    assert run.state == "running" and run.expected_rows == 30 and run.job.kind == "rescore"
    assert "Rescoring 30 customers" in response.content.decode()


@pytest.mark.django_db
def test_model_card_shows_use_data_limitations_and_checksum(world):
    version = active_model()
    page = _client(world.manager_b).get(reverse("predictions:model", args=[version.pk])).content.decode()
    assert version.checksum in page and "tests" in page and "Limitations" in page
    assert _client(world.manager_b).get(reverse("predictions:model", args=[987654])).status_code == 404


@pytest.mark.django_db
def test_admin_role_may_manage_models(world):
    admin = UserFactory(username="admin_person", roles=["Admin"])
    active_model(auc=0.8)
    active_model(auc=0.9)
    assert _client(admin).post(reverse("predictions:model-rollback", args=["abandonment"])).status_code == 302
    assert registry.active_version("abandonment").metrics["roc_auc"] == 0.8


@pytest.mark.django_db
def test_holdout_metrics_read_as_tables_not_python_dicts(world):
    nested = {
        "roc_auc": 0.93125,
        "holdout_rows": 2466,
        "catboost": {"roc_auc": 0.93125, "brier": 0.07312},
        "logistic_baseline": {"roc_auc": 0.8875},
    }
    version = registry.register_candidate(
        actor="command:test",
        kind="abandonment",
        algorithm="catboost",
        model_object={"w": 1},
        features=["a"],
        metrics=nested,
        holdout={"fingerprint": "h9", "rows": 2466},
    )
    card = _client(world.manager_a).get(reverse("predictions:model", args=[version.pk])).content.decode()
    assert "{" not in card.split("<h2>Holdout metrics")[1].split("<h2>Scoring runs")[0]
    assert '<td>catboost · brier</td><td class="num">0.0731</td>' in card
    assert '<td>holdout_rows</td><td class="num">2,466</td>' in card
    page = _client(world.manager_a).get(reverse("predictions:models")).content.decode()
    row = page.split(f">v{version.pk}</a>")[1].split("</tr>")[0]
    assert "{" not in row and "roc_auc 0.9313; holdout_rows 2,466" in row


def _better_model():
    from predictions.scoring.training import TrainedModel
    from tests.predictions.helpers import CUSTOMER_FEATURES, small_scorer

    return TrainedModel(
        scorer=small_scorer(1),
        algorithm="logistic_regression",
        features=list(CUSTOMER_FEATURES),
        metrics={"roc_auc": 0.9},
        holdout={"fingerprint": "h1"},
        window_start=None,
        window_end=None,
        card={},
    )


@pytest.mark.django_db
def test_a_version_has_one_status_word_on_the_page_and_in_its_job(world, analyst, monkeypatch):
    from cartportal.models import JobRun
    from predictions import services

    old = active_model(auc=0.8)
    monkeypatch.setitem(services.TRAINERS, "abandonment", "tests.predictions.test_views_models._better_model")
    job = JobRun.objects.create(kind="retrain", started_by=analyst)
    new = services.retrain_run(actor=analyst, job_id=job.pk, kind="abandonment", rescore=False)
    job.refresh_from_db()
    new.refresh_from_db()
    assert new.pk != old.pk and job.message.startswith(f"abandonment version {new.pk} is {new.status}")
    page = _client(analyst).get(reverse("predictions:models")).content.decode()
    row = page.split(f">v{new.pk}</a>")[1].split("</tr>")[0]
    other = {"active", "candidate", "retired"} - {new.status}
    assert f"<td>{new.status}</td>" in row and not any(f"<td>{w}</td>" in row for w in other)
