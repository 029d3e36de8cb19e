"""E-mail notifications: what the home page shows, as a message, for the people who asked for one.

Opt-in per person (`UserPreference.email_notifications`, off by default). A beat-scheduled task
(`portal.send_notifications`) sends each of them what is new since their last message, read through their own scope:
a manager hears of the campaigns they may approve, failed jobs and quarantined imports of their regions and model
drift; compliance of access denials and a broken audit chain; an executive, once a week, of the rollup's change.
Nothing new, no message. Sent through Django's mail settings (`EMAIL_HOST`, `EMAIL_PORT`, ...).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cartportal.audit import record
from cartportal.models import UserPreference
from cartportal.people import actor_names

from .selectors import home as home_selectors
from .selectors.audit import chain_status


def _link(name: str, *args) -> str:
    return settings.CARTPORTAL_BASE_URL.rstrip("/") + reverse(name, args=args)


def _money(value, currency: str) -> str:
    return "not measured" if value is None else f"{value:,.2f} {currency}"


def _manager_lines(user, since: dt.datetime) -> list[str]:
    lines = []
    for c in home_selectors.campaigns_to_approve(user, since):
        lines.append(
            f"Campaign awaiting your approval: {c.name} ({c.region.code}) {_link('interventions:campaign', c.pk)}"
        )
    for j in home_selectors.quarantined_imports(user, since):
        where = j.region.code if j.region else "regions from the file"
        quarantined, read = j.counts.get("quarantined"), j.counts.get("read")
        link = _link("ingest:import", j.pk)
        lines.append(f"Import {j.kind} #{j.pk} ({where}): {quarantined} of {read} rows quarantined {link}")
    return lines


def _job_lines(user, since: dt.datetime) -> list[str]:
    lines = []
    for j in home_selectors.failed_jobs(user, since):
        where = j.region.code if j.region else "all regions"
        lines.append(
            f"Job failed: {j.kind} #{j.pk} ({where}): {j.message or j.error[:160]} {_link('portal:job', j.pk)}"
        )
    for d in home_selectors.drift_alerts(since):
        lines.append(f"Model drift: the {d.kind} model drifted in {d.month:%Y-%m} on {', '.join(d.flagged)}")
    return lines


def _compliance_lines(user, since: dt.datetime) -> list[str]:
    denials = list(home_selectors.new_denials(user, since)[:20])
    names = actor_names(e.actor for e in denials)
    lines = [
        f"Access denied: {names[e.actor]} tried {(e.after or {}).get('attempted', '')} {e.object_type}"
        f"{':' + e.object_id if e.object_id else ''} ({e.region_code or 'no region'}) at {e.occurred_at:%Y-%m-%d %H:%M}"
        for e in denials
    ]
    chain = chain_status(user)
    if chain is not None and not chain.ok:
        lines.append(f"The audit chain is broken at row {chain.broken_at}: {chain.reason}")
    return lines


def _executive_lines(user, since: dt.datetime, now: dt.datetime) -> list[str]:
    """Once a week: the first message of each ISO week carries the rollup's change over the last seven days."""
    if since.isocalendar()[:2] == now.isocalendar()[:2]:
        return []
    lines = []
    for r in home_selectors.rollup_changes(user, now):
        lines.append(
            f"{r['code']}: revenue at risk {_money(r['revenue_at_risk'], r['currency'])}"
            f" (a week ago {_money(r['revenue_at_risk_week_ago'], r['currency'])}),"
            f" recovered {_money(r['recovered_revenue'], r['currency'])}"
            f" (a week ago {_money(r['recovered_revenue_week_ago'], r['currency'])}),"
            f" lift {r['campaign_lift'] if r['campaign_lift'] is not None else 'not measured'}"
        )
    return lines


def digest_for(user, since: dt.datetime, now: dt.datetime) -> list[str]:
    """The lines of one person's message: what is new for them since `since` (empty: nothing to send)."""
    sections = home_selectors.roles_of(user)
    lines: list[str] = []
    if "manager" in sections:
        lines += _manager_lines(user, since)
    if "manager" in sections or "analyst" in sections:
        lines += _job_lines(user, since)
    if "compliance" in sections:
        lines += _compliance_lines(user, since)
    if "executive" in sections:
        lines += _executive_lines(user, since, now)
    return lines


def _send(user, lines: list[str]) -> None:
    body = "\n".join(
        [f"Hello {user.get_full_name() or user.username},", "", "New in your regions:", ""]
        + [f"- {line}" for line in lines]
        + ["", f"Turn these messages off on {_link('portal:preferences')}"]
    )
    subject = f"cartportal: {len(lines)} new item{'s' if len(lines) != 1 else ''} for you"
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=False)


def notifications_send(*, actor, now: dt.datetime | None = None) -> dict:
    """Send every opted-in person with an e-mail address what is new for them, and move their watermark. A message
    is sent before its watermark moves: a failure sends it again next time rather than losing it."""
    now = now or timezone.now()
    counts = {"opted_in": 0, "sent": 0}
    people = UserPreference.objects.filter(email_notifications=True, user__is_active=True).exclude(user__email="")
    for preference_id in people.values_list("pk", flat=True):
        counts["opted_in"] += 1
        with transaction.atomic():
            preference = UserPreference.objects.select_for_update(skip_locked=True).filter(pk=preference_id).first()
            if preference is None or not preference.email_notifications:
                continue
            user = preference.user
            since = preference.notified_until or now - home_selectors.RECENT
            lines = digest_for(user, since, now)
            if lines:
                _send(user, lines)
                counts["sent"] += 1
                record(
                    actor=actor,
                    action="notifications.sent",
                    object_type="user",
                    object_id=str(user.pk),
                    after={"items": len(lines)},
                )
            preference.notified_until = now
            preference.save(update_fields=["notified_until", "updated_at"])
    return counts
