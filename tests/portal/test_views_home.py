"""The home page answers "what needs me today" per role, inside the reader's regions; people log in through the form."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cartportal import access
from cartportal.audit import actor_label, record
from cartportal.jobs import job_create
from cartportal.models import JobRun, UserPreference
from tests.base import login_through_form
from tests.factories import CartEventFactory, CustomerFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


login = login_through_form


def home(client) -> str:
    response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    return response.content.decode()


def _campaign(region, name, created_by=""):
    from interventions.models import Campaign

    return Campaign.objects.create(
        region=region, name=name, intervention="reminder", state="pending", created_by=created_by
    )


def _failed(kind, region=None, actor=None):
    job = job_create(kind=kind, region=region, actor=actor)
    JobRun.objects.filter(pk=job.pk).update(state="failed", message=f"{kind} broke")
    return job


def test_manager_sees_what_they_may_approve_failed_jobs_and_quarantine_of_their_regions(world):
    colleague = UserFactory(username="deputy_north", roles=[access.REGIONAL_MANAGER])
    access.grant_region(colleague, world.region_a, access.REGIONAL_MANAGER)
    _campaign(world.region_a, "marker-colleague-campaign", actor_label(colleague))
    _campaign(world.region_a, "marker-my-own-campaign", actor_label(world.manager_a))
    _campaign(world.region_b, "marker-south-campaign", actor_label(world.manager_b))
    _failed("marker-north-failed", world.region_a)
    _failed("marker-south-failed", world.region_b)
    imported = job_create(kind="import:orders", region=world.region_a)
    JobRun.objects.filter(pk=imported.pk).update(state="succeeded", counts={"read": 10, "quarantined": 3})
    south_import = job_create(kind="import:sessions", region=world.region_b)
    JobRun.objects.filter(pk=south_import.pk).update(state="succeeded", counts={"read": 9, "quarantined": 4})

    body = home(login(world.manager_a.username))
    assert "marker-colleague-campaign" in body
    assert "marker-my-own-campaign" not in body  # four eyes: a colleague approves it
    assert "marker-south-campaign" not in body and "marker-south-failed" not in body
    assert "marker-north-failed" in body and "marker-north-failed broke" in body
    assert f"import:orders #{imported.pk}</a> (NORTH): 3 of 10 rows quarantined" in body
    assert f"#{south_import.pk}" not in body
    assert "No abandonment run is published yet" in body
    assert "No model reports drift" in body

    # the colleague sees the manager's campaign and not their own
    body = home(login(colleague.username))
    assert "marker-my-own-campaign" in body and "marker-colleague-campaign" not in body


def test_manager_sees_the_open_carts_with_the_highest_expected_loss_in_their_regions(world):
    from predictions.models import ModelVersion, Score, ScoringRun

    version = ModelVersion.objects.create(kind="abandonment", algorithm="test", artifact=b"", checksum="0")
    run = ScoringRun.objects.create(
        model_version=version, kind="abandonment", state="published", published_at=timezone.now()
    )
    losses = {}
    for i, (region, probability, value) in enumerate(
        [
            (world.region_a, 0.5, 40.0),
            (world.region_a, 0.9, 100.0),
            (world.region_a, 0.1, 10.0),
            (world.region_b, 0.99, 900.0),
        ]
    ):
        session = SessionFactory(region=region, external_id=f"cart-{region.code}-{i}")
        CartEventFactory(session=session, unit_price=Decimal(str(value)))
        extra = {"expected_loss": round(probability * value, 2), "cart_value": value, "reasons": []}
        Score.objects.create(run=run, region=region, session=session, value=probability, extra=extra)
        losses[session.external_id] = extra["expected_loss"]

    body = home(login(world.manager_a.username))
    shown = [name for name in losses if name in body]
    assert shown == ["cart-NORTH-0", "cart-NORTH-1", "cart-NORTH-2"]
    # riskiest expected loss first: 90.00 before 20.00 before 1.00
    assert body.index("cart-NORTH-1") < body.index("cart-NORTH-0") < body.index("cart-NORTH-2")
    assert "90.00 GBP" in body and "cart-SOUTH-3" not in body


def test_flagged_drift_is_an_alert_for_managers_and_analysts(world):
    from predictions.models import DriftReport

    DriftReport.objects.create(
        kind="abandonment",
        month=dt.date(2024, 5, 1),
        reference_month=dt.date(2024, 4, 1),
        flagged=["cart_value", "score"],
        score_psi=0.31,
    )
    for user in (world.manager_a, world.analyst_a):
        assert "drifted on cart_value, score" in home(login(user.username))


def test_executive_sees_each_regions_change_since_last_week(world):
    from interventions.models import Assignment, Campaign

    campaign = Campaign.objects.create(region=world.region_a, name="c", intervention="reminder", state="completed")
    now = timezone.now()

    def assign(holdout: bool, converted: bool, days_ago: int) -> None:
        Assignment.objects.create(
            campaign=campaign,
            customer=CustomerFactory(region=world.region_a),
            arm="holdout" if holdout else "reminder",
            holdout=holdout,
            assigned_at=now - dt.timedelta(days=30),
            outcome_at=now - dt.timedelta(days=days_ago),
            converted=converted,
            revenue=Decimal("30.00") if converted else Decimal("0"),
        )

    # a week ago: 10 treated (2 bought), 10 holdout (1 bought): lift 0.1, recovered (6 - 3) x 10 = 30
    for i in range(10):
        assign(False, i < 2, 10)
        assign(True, i < 1, 10)
    # this week: 10 more treated (all bought), 10 more holdout (1 bought)
    for i in range(10):
        assign(False, True, 2)
        assign(True, i < 1, 2)
    # now: treated 12/20 = 0.6, holdout 2/20 = 0.1: lift 0.5; recovered (18 - 3) x 20 = 300

    body = home(login(world.executive.username))
    assert "Changes since last week" in body
    north = body[body.index("NORTH — North") :].split("</tr>")[0]
    assert "300.00 GBP" in north and "270.00" in north  # recovered now, change vs a week ago (300 - 30)
    assert "0.5000" in north and "0.4000" in north  # lift now, change (0.5 - 0.1)
    south = body[body.index("SOUTH — South") :].split("</tr>")[0]
    assert south.count("not measured") == 3


def test_compliance_sees_denials_since_their_last_visit_and_the_chain(world):
    record(
        actor=f"user:{world.manager_b.pk}",
        action="access.denied",
        object_type="campaign",
        object_id="7",
        region_code="NORTH",
        after={"attempted": "view"},
    )
    client = login(world.compliance.username)
    body = home(client)
    assert "1 refused attempt." in body and "manager_south" in body and "campaign:7" in body
    assert "The audit chain is intact" in body
    body = home(client)  # nothing new since the visit a moment ago
    assert "No access was refused since then." in body
    record(
        actor=f"user:{world.manager_a.pk}",
        action="access.denied",
        object_type="job",
        object_id="9",
        region_code="SOUTH",
        after={"attempted": "view"},
    )
    body = home(client)
    assert "1 refused attempt." in body and "manager_north" in body and "campaign:7" not in body


def test_analyst_sees_models_and_their_running_jobs(world):
    job = job_create(kind="retrain", actor=world.analyst_a)
    body = home(login(world.analyst_a.username))
    assert "Models" in body and "abandonment" in body and "none yet" in body
    assert f"retrain #{job.pk}</a>: queued" in body


def test_notifications_default_off_and_are_turned_on_by_the_person(world):
    from cartportal.models import AuditEvent

    client = login(world.manager_a.username)
    assert "E-mail notifications: off" in home(client)
    assert not UserPreference.objects.filter(user=world.manager_a, email_notifications=True).exists()
    world.manager_a.email = ""
    world.manager_a.save()
    response = client.post(reverse("portal:preferences"), {"email_notifications": "on"})
    assert response.status_code == 400 and "no e-mail address" in response.content.decode()
    world.manager_a.email = "north@example.test"
    world.manager_a.save()
    response = client.post(reverse("portal:preferences"), {"email_notifications": "on"}, follow=True)
    assert "E-mail notifications are on." in response.content.decode()
    assert UserPreference.objects.get(user=world.manager_a).email_notifications is True
    assert AuditEvent.objects.filter(action="notifications.changed", object_id=str(world.manager_a.pk)).count() == 1
    client.post(reverse("portal:preferences"), {})
    assert UserPreference.objects.get(user=world.manager_a).email_notifications is False
