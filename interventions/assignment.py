"""Assigning a started campaign's audience on a worker.

Eligible = the audience, in the campaign's region, with marketing consent, not erased, and under the contact cap
(every treated assignment of any campaign and every week of promotions in the cap period counts as a contact;
holdout customers were not contacted). The cap applies before the holdout split, so the holdout stays
comparable with the treated arms. Customers go in batches: before each batch the kill switch is checked and the
arm probabilities are re-balanced from the arms' observed outcomes (Thompson sampling) or kept uniform. Each
customer's message is rendered and checked against the guardrails; a refusal leaves the customer out of every
arm (holdout included, for the same reason) and is counted by its reason. Every assignment records its arm and
the probability with which it was chosen.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from cartportal.access import get_scoped_or_404
from cartportal.audit import record
from cartportal.jobs import job_create, job_failed, job_finished, job_progress, job_started
from cartportal.models import Customer, JobRun
from cartportal.services import DomainError
from interventions import selectors
from interventions.allocation.thompson import ArmStats, best_arm_probabilities
from interventions.audiences import audience_customer_ids
from interventions.delivery.render import render_message
from interventions.holdout import bucket
from interventions.killswitch import kill_switch_engaged
from interventions.models import Assignment, Campaign, PromotionOffer

JOB_KIND = "interventions.assign"
HOLDOUT_ARM = "holdout"
# Share of each batch spread evenly over the arms whatever the posterior says, so that no arm's propensity is 0.
EXPLORATION_FLOOR = 0.1


def treated_arms(campaign: Campaign) -> list[str]:
    return list(campaign.arms or [campaign.intervention])


def contacts_in_period(customer_ids: list[int], at: dt.datetime) -> Counter:
    """Contacts per customer in the cap period before `at`: treated assignments of every campaign plus one per
    week of promotions."""
    since = at - dt.timedelta(days=settings.CARTPORTAL_CONTACT_CAP_DAYS)
    counts: Counter = Counter()
    treated = Assignment.objects.filter(
        customer_id__in=customer_ids, holdout=False, assigned_at__gt=since, assigned_at__lte=at
    )
    counts.update(dict(treated.values_list("customer_id").annotate(n=Count("id"))))
    weeks = PromotionOffer.objects.filter(
        customer_id__in=customer_ids, week_start__gt=since.date() - dt.timedelta(days=7), week_start__lte=at.date()
    )
    counts.update(dict(weeks.values_list("customer_id").annotate(n=Count("week_start", distinct=True))))
    return counts


def eligibility(actor, campaign: Campaign, at: dt.datetime) -> tuple[list[int], dict]:
    """(eligible customer ids not yet assigned, counts of the audience and of each exclusion)."""
    audience = Customer.objects.filter(pk__in=audience_customer_ids(actor, campaign), region_id=campaign.region_id)
    size = audience.count()
    consenting = audience.filter(consent_marketing=True, erased_at__isnull=True)
    ids = list(consenting.order_by("pk").values_list("pk", flat=True))
    assigned = set(
        Assignment.objects.filter(campaign=campaign, customer_id__in=ids).values_list("customer_id", flat=True)
    )
    fresh = [c for c in ids if c not in assigned]
    contacts = contacts_in_period(fresh, at)
    eligible = [c for c in fresh if contacts[c] < settings.CARTPORTAL_CONTACT_CAP]
    counts = {
        "audience": size,
        "no_consent_or_erased": size - len(ids),
        "already_assigned": len(assigned),
        "over_contact_cap": len(fresh) - len(eligible),
        "eligible": len(eligible),
    }
    return eligible, counts


def campaign_reach(user, campaign: Campaign, *, sample: int = 10) -> dict:
    """Who the campaign will reach if started now: what the approval page shows before anyone decides."""
    if not campaign.audience_kind:
        return {"ready": False, "reason": "the campaign has no saved audience"}
    eligible, counts = eligibility(user, campaign, timezone.now())
    names = dict(Customer.objects.filter(pk__in=eligible[:sample]).values_list("pk", "external_id"))
    return {
        "ready": True,
        **counts,
        "holdout_share": campaign.holdout_share,
        "expected_holdout": round(len(eligible) * campaign.holdout_share),
        "sample": [names[c] for c in eligible[:sample] if c in names],
        "arms": treated_arms(campaign),
    }


def arm_probabilities(campaign: Campaign, rng: np.random.Generator) -> dict[str, float]:
    """The treated arms' allocation: uniform, or Thompson sampling on each arm's observed conversions."""
    arms = treated_arms(campaign)
    if campaign.allocation == "uniform" or len(arms) == 1:
        return {arm: 1 / len(arms) for arm in arms}
    rows = (
        Assignment.objects.filter(campaign=campaign, holdout=False, outcome_at__isnull=False)
        .values("arm")
        .annotate(n=Count("id"), hits=Count("id", filter=Q(converted=True)))
    )
    seen = {r["arm"]: r for r in rows}
    stats = [ArmStats(seen.get(a, {}).get("n", 0), float(seen.get(a, {}).get("hits", 0))) for a in arms]
    shares = best_arm_probabilities(stats, rng=rng, floor=EXPLORATION_FLOOR)
    return dict(zip(arms, (float(s) for s in shares), strict=True))


def campaign_assign_start(*, actor, campaign: Campaign) -> JobRun:
    """Queue the assignment of a campaign that has just started (called inside the start transaction)."""
    job = job_create(kind=JOB_KIND, actor=actor, region=campaign.region, parameters={"campaign_id": campaign.pk})
    Campaign.objects.filter(pk=campaign.pk).update(assign_job=job)
    campaign.assign_job = job
    transaction.on_commit(lambda: _enqueue(job.pk, campaign.pk, campaign.region_id))
    return job


def _enqueue(job_id: int, campaign_id: int, region_id: int) -> None:
    from interventions.tasks import assign_campaign

    assign_campaign.delay(job_id, campaign_id, [region_id])


def campaign_assign_run(*, actor, campaign_id: int, job_id: int | None = None, at: dt.datetime | None = None) -> dict:
    """Assign every eligible customer of a running campaign, batch by batch (re-running adds nobody twice)."""
    at = at or timezone.now()
    if job_id:
        job_started(job_id)
    try:
        campaign = get_scoped_or_404(Campaign.objects.select_related("region"), actor, "change", pk=campaign_id)
        if campaign.state != Campaign.State.RUNNING:
            raise DomainError("customers can only be assigned to a running campaign", code="invalid_state")
        eligible, counts = eligibility(actor, campaign, at)
        summary = _assign_batches(actor, campaign, eligible, at, job_id, counts)
    except DomainError as exc:
        if job_id:
            job_failed(job_id, exc.message)
        raise
    except Exception as exc:
        if job_id:
            job_failed(job_id, str(exc))
        raise
    if job_id:
        job_finished(job_id, counts=summary, message=summary["message"])
    return summary


def _assign_batches(actor, campaign: Campaign, eligible: list[int], at, job_id, counts: dict) -> dict:
    batch = settings.CARTPORTAL_ALLOCATION_BATCH
    rng = np.random.default_rng([campaign.pk, counts["already_assigned"]])
    assigned, refusals, stopped = Counter(), Counter(campaign.refusals or {}), False
    for start in range(0, len(eligible), batch):
        if kill_switch_engaged(campaign.region_id) or not _still_running(campaign.pk):
            stopped = True
            break
        shares = arm_probabilities(campaign, rng)
        rows, refused = _batch_rows(actor, campaign, eligible[start : start + batch], at, shares, rng)
        with transaction.atomic():
            Assignment.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
            refusals.update(refused)
            Campaign.objects.filter(pk=campaign.pk).update(refusals=dict(refusals))
        assigned.update(r.arm for r in rows)
        done = min(start + batch, len(eligible))
        if job_id:
            job_progress(
                job_id, 100.0 * done / max(len(eligible), 1), message=f"{done:,} of {len(eligible):,} customers"
            )
    summary = {
        **counts,
        "assigned": sum(assigned.values()),
        "by_arm": dict(assigned),
        "refused": dict(refusals),
        "stopped_by_kill_switch": stopped,
    }
    summary["message"] = (
        "stopped: the kill switch is engaged or the campaign is no longer running"
        if stopped
        else f"{summary['assigned']:,} customers assigned"
    )
    with transaction.atomic():
        record(
            actor=actor,
            action="campaign.assign",
            object_type="interventions.campaign",
            object_id=campaign.pk,
            region_code=campaign.region.code,
            after={k: v for k, v in summary.items() if k != "message"},
        )
    if summary["assigned"]:
        from interventions.delivery.webhooks import deliveries_queue

        deliveries_queue(campaign.pk)
    return summary


def _still_running(campaign_id: int) -> bool:
    return Campaign.objects.filter(pk=campaign_id, state=Campaign.State.RUNNING).exists()


def _batch_rows(actor, campaign, ids, at, shares, rng) -> tuple[list[Assignment], Counter]:
    arms, probabilities = list(shares), np.array(list(shares.values()))
    customers = Customer.objects.in_bulk(ids)
    features = selectors.customer_features(actor, ids)
    rows, refused = [], Counter()
    for cid in ids:
        choice = int(rng.choice(len(arms), p=probabilities))
        rendered = render_message(arms[choice], customers[cid])
        if rendered.refusal:
            refused[f"{arms[choice]}: {rendered.refusal}"] += 1
            continue
        holdout = bucket(campaign.pk, cid) < campaign.holdout_share
        rows.append(
            Assignment(
                campaign=campaign,
                customer_id=cid,
                arm=HOLDOUT_ARM if holdout else arms[choice],
                holdout=holdout,
                assigned_at=at,
                propensity=campaign.holdout_share if holdout else (1 - campaign.holdout_share) * probabilities[choice],
                content={} if holdout else {**rendered.as_content(), "intervention": arms[choice]},
                features=features.get(cid, {}),
            )
        )
    return rows, refused
