"""Signed webhooks to a partner's HTTPS endpoint, on a real worker: a local HTTPS receiver (a self-signed
certificate made here with the openssl command, trusted through CARTPORTAL_WEBHOOK_CA_BUNDLE) answers the first
request 500 and lets another time out; every treated assignment is processed exactly once with a valid signature
(the receiver dedupes on the idempotency key, as partners are told to), and an endpoint that keeps failing ends
in the dead-letter list on the campaign page."""

import hashlib
import hmac
import json
import ssl
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from cartportal import access
from interventions import services
from interventions.audiences import audience_list_create
from interventions.models import Assignment, Campaign, WebhookDelivery
from tests.base import build_world
from tests.factories import ProductFactory, UserFactory
from tests.interventions.test_campaign_loop_e2e import _wait, _with_open_cart
from tests.workers import WorkerProcess


def _certificate(folder) -> tuple[str, str]:
    cert, key = folder / "receiver.pem", folder / "receiver.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


class Receiver:
    """Loopback HTTPS endpoint: /hook fails its first request with 500 and stalls its second past the client's
    timeout (after processing it, as a slow receiver would); /broken always answers 500."""

    def __init__(self, cert: str, key: str):
        self.cert_path = cert
        self.requests: Counter = Counter()
        self.processed: dict[str, bytes] = {}
        self.signatures: dict[str, str] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests[self.path] += 1
                    n = receiver.requests[self.path]
                    if self.path == "/broken" or n == 1:
                        return self._answer(500)
                    if key not in receiver.processed:
                        receiver.processed[key] = body
                        receiver.signatures[key] = self.headers["X-Cartportal-Signature"]
                if n == 2:
                    time.sleep(3)  # longer than the sender waits: it sees a timeout and must retry
                self._answer(200)

            def _answer(self, status):
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver(tmp_path):
    server = Receiver(*_certificate(tmp_path))
    server.thread.start()
    yield server
    server.server.shutdown()


def _deputy(world):
    deputy = User.objects.filter(username="deputy_webhook").first()
    if deputy is None:
        deputy = UserFactory(username="deputy_webhook", roles=[access.REGIONAL_MANAGER])
        access.grant_region(deputy, world.region_a, access.REGIONAL_MANAGER)
    return deputy


def _running_campaign(world, customers, url: str) -> Campaign:
    audience = audience_list_create(
        actor=world.manager_a, region=world.region_a, name=f"list {url}", customer_ids=[c.pk for c in customers]
    )
    draft = services.campaign_create_draft(
        actor=world.manager_a,
        region=world.region_a,
        name=f"Webhook {url}",
        intervention="reminder",
        holdout_share=0.2,
        audience_kind="list",
        audience_ref={"list_id": audience.pk},
        webhook_url=url,
    )
    services.campaign_transition(actor=world.manager_a, campaign_id=draft.pk, action="submit", reason="go")
    # four eyes: a second manager of the region approves
    services.campaign_transition(actor=_deputy(world), campaign_id=draft.pk, action="approve", reason="go")
    services.campaign_transition(actor=world.manager_a, campaign_id=draft.pk, action="start", reason="go")
    return Campaign.objects.get(pk=draft.pk)


@pytest.mark.django_db(transaction=True)
def test_every_assignment_arrives_once_signed_despite_failures(receiver, monkeypatch):
    monkeypatch.setenv("CARTPORTAL_WEBHOOK_CA_BUNDLE", receiver.cert_path)
    monkeypatch.setenv("CARTPORTAL_WEBHOOK_TIMEOUT", "1")
    monkeypatch.setenv("CARTPORTAL_WEBHOOK_BACKOFF_SECONDS", "0.5")
    monkeypatch.setenv("CARTPORTAL_WEBHOOK_MAX_ATTEMPTS", "3")
    worker = WorkerProcess()
    worker.start()
    try:
        world = build_world()
        products = [ProductFactory(name="Wool blanket")]
        campaign = _running_campaign(world, _with_open_cart(world.region_a, 25, products), f"{receiver.url}/hook")
        treated = _wait(
            lambda: _all_settled(campaign) and list(Assignment.objects.filter(campaign=campaign, holdout=False))
        )
        keys = {a.idempotency_key for a in treated}
        assert set(receiver.processed) == keys  # every treated assignment, and only those (never the holdout)
        assert receiver.requests["/hook"] == len(keys) + 2  # the 500 and the timeout were retried once each
        for key, body in receiver.processed.items():
            expected = "sha256=" + hmac.new(campaign.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(receiver.signatures[key], expected)
            assert json.loads(body)["idempotency_key"] == key and "Wool blanket" in json.loads(body)["message"]
        deliveries = WebhookDelivery.objects.filter(assignment__campaign=campaign)
        assert set(deliveries.values_list("state", flat=True)) == {"delivered"}
        assert sum(deliveries.values_list("attempts", flat=True)) == len(keys) + 2

        broken = _running_campaign(world, _with_open_cart(world.region_a, 4, products), f"{receiver.url}/broken")
        _wait(lambda: _all_settled(broken) and WebhookDelivery.objects.filter(assignment__campaign=broken).exists())
        dead = WebhookDelivery.objects.filter(assignment__campaign=broken)
        assert set(dead.values_list("state", flat=True)) == {"dead"} and set(
            dead.values_list("attempts", flat=True)
        ) == {3}
        client = Client()
        client.force_login(world.manager_a)
        page = client.get(reverse("interventions:campaign", args=[broken.pk])).content.decode()
        first = dead.select_related("assignment__customer").first()
        assert "Dead letters" in page and first.assignment.customer.external_id in page and "answered 500" in page
    finally:
        worker.stop()


def _all_settled(campaign) -> bool:
    job = Campaign.objects.get(pk=campaign.pk).assign_job
    if job is None or job.state not in ("succeeded", "failed"):
        return False
    return not WebhookDelivery.objects.filter(assignment__campaign=campaign, state="pending").exists() and (
        not Assignment.objects.filter(campaign=campaign, holdout=False).exists()
        or WebhookDelivery.objects.filter(assignment__campaign=campaign).exists()
    )
