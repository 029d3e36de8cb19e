"""E-mail notifications through a real SMTP server (aiosmtpd, started here) and a real Celery worker: each person who
opted in receives what is new in their own regions; nobody else receives anything, and nothing crosses regions."""

from __future__ import annotations

import email
import socket
import time
from email import policy

import pytest
from django.core import mail
from django.test import override_settings

from cartportal import access
from cartportal.audit import actor_label
from cartportal.jobs import job_create
from cartportal.models import AuditEvent, JobRun, UserPreference
from cartportal.portal.services import notifications_set
from tests.base import build_world
from tests.factories import UserFactory


class Inbox:
    """What the SMTP server received: (recipients, parsed message) per message."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        return [m.get_body(("plain",)).get_content() for rcpt, m in self.messages if address in rcpt]

    def subjects(self, address: str) -> list[str]:
        return [m["Subject"] for rcpt, m in self.messages if address in rcpt]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(monkeypatch):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    # the worker process reads Django's mail settings from its environment, as in production
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    monkeypatch.setenv("CARTPORTAL_BASE_URL", "https://portal.example.test")
    yield inbox
    controller.stop()


@pytest.fixture
def worker(smtp_server, celery_worker_process):
    return celery_worker_process


def _wait_for(inbox: Inbox, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(inbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)


def _pending(region, name, author):
    from interventions.models import Campaign

    return Campaign.objects.create(
        region=region, name=name, intervention="reminder", state="pending", created_by=actor_label(author)
    )


def _opted_in_managers(world) -> None:
    """Both regions' managers have an address and opted in."""
    for user, address in ((world.manager_a, "north@x.test"), (world.manager_b, "south@x.test")):
        user.email = address
        user.save()
        notifications_set(actor=user, email_notifications=True)


@pytest.mark.django_db(transaction=True)
@override_settings(CARTPORTAL_NOTIFY_DELAY_SECONDS=-1)  # only the scheduled sends here, so each count is exact
def test_the_worker_mails_each_opted_in_person_their_own_regions_news(smtp_server, worker):
    from cartportal.portal.tasks import send_notifications

    world = build_world()
    deputy_north = UserFactory(username="deputy_north", roles=[access.REGIONAL_MANAGER], email="deputy@n.test")
    access.grant_region(deputy_north, world.region_a, access.REGIONAL_MANAGER)
    deputy_south = UserFactory(username="deputy_south", roles=[access.REGIONAL_MANAGER], email="deputy@s.test")
    access.grant_region(deputy_south, world.region_b, access.REGIONAL_MANAGER)
    _opted_in_managers(world)
    world.analyst_a.email = "analyst@x.test"  # has an address but never opted in
    world.analyst_a.save()
    world.compliance.email = "compliance@x.test"
    world.compliance.save()
    notifications_set(actor=world.compliance, email_notifications=True)

    _pending(world.region_a, "North spring reminder", deputy_north)
    _pending(world.region_b, "South summer reminder", deputy_south)
    _pending(world.region_a, "Drafted by the north manager", world.manager_a)  # four eyes: not theirs to approve
    failed = job_create(kind="import:orders", region=world.region_a)
    JobRun.objects.filter(pk=failed.pk).update(state="failed", message="the file has no header row")
    access.record_denied(world.manager_b, action="view", what="campaign", object_id="42", region_id=world.region_a.pk)

    assert send_notifications.delay().get(timeout=60) == {"opted_in": 3, "sent": 3}
    _wait_for(smtp_server, 3)
    assert len(smtp_server.messages) == 3

    (north,) = smtp_server.to("north@x.test")
    assert "Campaign awaiting your approval: North spring reminder (NORTH)" in north
    assert "https://portal.example.test/interventions/campaigns/" in north
    assert f"Job failed: import:orders #{failed.pk} (NORTH): the file has no header row" in north
    assert "South summer reminder" not in north and "Drafted by the north manager" not in north
    assert smtp_server.subjects("north@x.test") == ["cartportal: 2 new items for you"]

    (south,) = smtp_server.to("south@x.test")
    assert "South summer reminder (SOUTH)" in south
    assert "North spring reminder" not in south and "import:orders" not in south

    (compliance,) = smtp_server.to("compliance@x.test")
    assert "Access denied: manager_south tried view campaign:42 (NORTH)" in compliance

    assert smtp_server.to("analyst@x.test") == [] and smtp_server.to("deputy@n.test") == []
    assert AuditEvent.objects.filter(action="notifications.sent", actor="task:notify").count() == 3

    # nothing new: no second message; something new: only to whom it concerns
    assert send_notifications.delay().get(timeout=60) == {"opted_in": 3, "sent": 0}
    _pending(world.region_b, "South autumn reminder", deputy_south)
    assert send_notifications.delay().get(timeout=60) == {"opted_in": 3, "sent": 1}
    _wait_for(smtp_server, 4)
    assert len(smtp_server.messages) == 4
    assert "South autumn reminder" in smtp_server.to("south@x.test")[-1]


@pytest.mark.django_db(transaction=True)
@override_settings(CARTPORTAL_NOTIFY_DELAY_SECONDS=1)
def test_a_submitted_campaign_and_a_failed_job_are_mailed_as_they_happen(smtp_server, worker):
    """No scheduled run here (none is called): the submission and the failure themselves queue the send, and the
    worker mails the manager within seconds; a colleague in another region hears of neither."""
    from cartportal.jobs import job_failed
    from interventions.services import campaign_create_draft, campaign_transition

    world = build_world()
    deputy = UserFactory(username="deputy_north", roles=[access.REGIONAL_MANAGER], email="deputy@n.test")
    access.grant_region(deputy, world.region_a, access.REGIONAL_MANAGER)
    _opted_in_managers(world)

    job = job_create(kind="import:orders", region=world.region_a)  # starts now, fails after the first message
    campaign = campaign_create_draft(
        actor=deputy,
        region=world.region_a,
        name="North flash sale",
        intervention="reminder",
        audience_kind="at_risk",
        audience_ref={"threshold": 0.5},
    )
    assert smtp_server.messages == []  # a draft is nobody's news
    campaign_transition(actor=deputy, campaign_id=campaign.pk, action="submit")
    _wait_for(smtp_server, 1, timeout=60)
    (north,) = smtp_server.to("north@x.test")
    assert "Campaign awaiting your approval: North flash sale (NORTH)" in north

    job_failed(job.pk, "the file has no header row")
    _wait_for(smtp_server, 2, timeout=60)
    assert len(smtp_server.messages) == 2
    latest = smtp_server.to("north@x.test")[-1]
    assert f"Job failed: import:orders #{job.pk} (NORTH): the file has no header row" in latest
    assert smtp_server.to("south@x.test") == []
    assert AuditEvent.objects.filter(action="notifications.sent", actor="task:notify").count() == 2


@pytest.mark.django_db
@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_turning_notifications_off_stops_them(world):
    from cartportal.portal.notifications import notifications_send

    world.manager_a.email = "north@x.test"
    world.manager_a.save()
    notifications_set(actor=world.manager_a, email_notifications=True)
    notifications_set(actor=world.manager_a, email_notifications=False)
    colleague = UserFactory(username="deputy_north", roles=[access.REGIONAL_MANAGER])
    access.grant_region(colleague, world.region_a, access.REGIONAL_MANAGER)
    _pending(world.region_a, "North spring reminder", colleague)
    assert notifications_send(actor="task:notify") == {"opted_in": 0, "sent": 0}
    assert mail.outbox == []
    assert UserPreference.objects.get(user=world.manager_a).email_notifications is False
