"""Signed webhooks: each treated assignment of a campaign with a webhook URL is POSTed once to the partner's HTTPS
endpoint. The body is JSON; `X-Cartportal-Signature: sha256=<hex>` is the HMAC-SHA256 of the exact body with the
campaign's secret, and `Idempotency-Key` names the assignment, so a receiver that saw a key before answers 2xx and
does nothing. A failure (an error status, a timeout, a refused connection) is retried on a worker with
exponential backoff; after CARTPORTAL_WEBHOOK_MAX_ATTEMPTS the delivery is a dead letter, listed on the
campaign page. Nothing is sent while the kill switch covers the campaign's region."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from interventions.killswitch import kill_switch_engaged
from interventions.models import Assignment, Campaign, WebhookDelivery

SIGNATURE_HEADER = "X-Cartportal-Signature"
State = WebhookDelivery.State


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(assignment: Assignment) -> dict:
    content = assignment.content or {}
    return {
        "idempotency_key": assignment.idempotency_key,
        "campaign": assignment.campaign_id,
        "assignment": assignment.pk,
        "customer_id": assignment.customer_id,
        "customer": assignment.customer.external_id,
        "arm": assignment.arm,
        "intervention": content.get("intervention", assignment.arm),
        "message": content.get("text", ""),
        "assigned_at": assignment.assigned_at.isoformat(),
    }


def deliveries_queue(campaign_id: int) -> int:
    """Create the missing deliveries of a campaign's treated assignments and queue them (after commit)."""
    campaign = Campaign.objects.filter(pk=campaign_id).exclude(webhook_url="").first()
    if campaign is None:
        return 0
    missing = Assignment.objects.filter(campaign=campaign, holdout=False, delivery__isnull=True)
    with transaction.atomic():
        created = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(assignment_id=pk) for pk in missing.values_list("pk", flat=True)],
            batch_size=5000,
            ignore_conflicts=True,
        )
        pending = list(
            WebhookDelivery.objects.filter(assignment__campaign=campaign, state=State.PENDING).values_list(
                "pk", flat=True
            )
        )
        transaction.on_commit(lambda: _enqueue(pending))
    return len(created)


def _enqueue(delivery_ids: list[int], countdown: float = 0) -> None:
    from interventions.tasks import deliver_webhook

    for pk in delivery_ids:
        deliver_webhook.apply_async((pk,), countdown=countdown)


def backoff_seconds(attempts: int) -> float:
    return settings.CARTPORTAL_WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)


def delivery_attempt(delivery_id: int) -> float | None:
    """One attempt; returns the seconds until the next attempt when it must be retried, else None. The row is
    locked while sending, so two copies of the task never send the same delivery at once."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("assignment__campaign", "assignment__customer")
            .filter(pk=delivery_id, state=State.PENDING)
            .first()
        )
        if delivery is None:
            return None  # delivered, dead, or being sent by another worker
        campaign = delivery.assignment.campaign
        if kill_switch_engaged(campaign.region_id) or campaign.state != Campaign.State.RUNNING:
            return None  # left pending: nothing is sent under the kill switch or for a stopped campaign
        delivery.attempts += 1
        status, error = _post(campaign, delivery.assignment)
        delivery.last_status = status
        delivery.last_error = error[:500]
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.delivered_at = State.DELIVERED, timezone.now()
        elif delivery.attempts >= settings.CARTPORTAL_WEBHOOK_MAX_ATTEMPTS:
            delivery.state = State.DEAD
        delivery.save()
        return backoff_seconds(delivery.attempts) if delivery.state == State.PENDING else None


def _post(campaign: Campaign, assignment: Assignment) -> tuple[int | None, str]:
    body = json.dumps(payload(assignment), sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(campaign.webhook_secret, body),
        "Idempotency-Key": assignment.idempotency_key,
    }
    try:
        response = requests.post(
            campaign.webhook_url,
            data=body,
            headers=headers,
            timeout=settings.CARTPORTAL_WEBHOOK_TIMEOUT,
            verify=settings.CARTPORTAL_WEBHOOK_CA_BUNDLE or True,
            allow_redirects=False,
        )
    except requests.Timeout:
        return None, "timed out"
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, "" if response.ok else f"answered {response.status_code}"


def dead_letters(campaign: Campaign):
    return (
        WebhookDelivery.objects.filter(assignment__campaign=campaign, state=State.DEAD)
        .select_related("assignment__customer")
        .order_by("pk")
    )


def delivery_counts(campaign: Campaign) -> dict:
    rows = WebhookDelivery.objects.filter(assignment__campaign=campaign).values_list("state")
    return dict(rows.annotate(n=Count("pk")))
