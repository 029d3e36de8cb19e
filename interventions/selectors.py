"""Reads for interventions; each starts from the user's region scope."""

from __future__ import annotations

import math

from django.db.models import Avg, Count, Q, Sum

from cartportal.access import SystemActor, get_scoped_or_404, region_ids_for
from cartportal.models import Customer
from interventions import catalogue
from interventions.holdout import mean_lift, proportion_lift, sample_ratio_mismatch
from interventions.models import Assignment, Campaign
from segments.selectors import profile_features


def campaigns_for(user, *, region_id: int | None = None, state: str = ""):
    qs = Campaign.objects.restrict(user, "view").select_related("region")
    if region_id:
        qs = qs.filter(region_id=region_id)
    if state:
        qs = qs.filter(state=state)
    return qs.annotate(assigned=Count("assignments")).order_by("-created_at", "-id")


def campaigns_targeting(campaigns, segment: str):
    """The campaigns whose saved audience is that segment (`rfm:CODE`, `value_group:CODE`), as the filters write it."""
    kind, _, code = segment.partition(":")
    return campaigns.filter(audience_kind=kind, audience_ref__code=code)


def approvals_for(user):
    """Campaigns waiting for a decision in the regions the user may approve in."""
    qs = Campaign.objects.restrict(user, "approve").filter(state=Campaign.State.PENDING).select_related("region")
    qs = qs.annotate(assigned=Count("assignments")).order_by("-created_at", "-id")
    return qs if region_ids_for(user, "approve") != [] else qs.none()


def campaign_for(user, pk: int, action: str = "view") -> Campaign:
    return get_scoped_or_404(Campaign.objects.all(), user, action, pk=pk)


def arm_summary(campaign: Campaign) -> list[dict]:
    rows = (
        Assignment.objects.filter(campaign=campaign)
        .values("arm", "holdout")
        .annotate(
            n=Count("id"),
            visits=Count("id", filter=Q(visited=True)),
            conversions=Count("id", filter=Q(converted=True)),
            revenue=Sum("revenue"),
            with_outcome=Count("id", filter=Q(outcome_at__isnull=False)),
        )
        .order_by("holdout", "arm")
    )
    return [{**r, "revenue": float(r["revenue"] or 0)} for r in rows]


def arm_propensities(campaign: Campaign) -> dict[str, float]:
    """Mean recorded propensity per arm (the allocation as it was actually run)."""
    rows = (
        Assignment.objects.filter(campaign=campaign, propensity__isnull=False)
        .values("arm")
        .annotate(p=Avg("propensity"))
    )
    return {r["arm"]: round(r["p"], 4) for r in rows}


def campaign_assignments(user, campaign: Campaign):
    """The campaign's assignments as a partner pulls them (customer external id, arm, message, propensity)."""
    return Assignment.objects.restrict(user).filter(campaign=campaign).select_related("customer").order_by("pk")


def campaign_lift(campaign: Campaign, *, treated_arm: str | None = None, metric: str = "converted") -> dict:
    """Lift of one treated arm (default: all treated arms) against the holdout, for conversion (or visits)
    and revenue, with the sample-ratio check on the configured holdout share."""
    base = Assignment.objects.filter(campaign=campaign, outcome_at__isnull=False)
    treated = base.filter(holdout=False)
    if treated_arm:
        treated = treated.filter(arm=treated_arm)
    control = base.filter(holdout=True)
    t_n, c_n = treated.count(), control.count()
    if t_n == 0 or c_n == 0:
        return {"ready": False, "reason": "no outcomes yet in both the treated arm and the holdout"}
    t_hits, c_hits = treated.filter(**{metric: True}).count(), control.filter(**{metric: True}).count()
    rate = proportion_lift(t_hits, t_n, c_hits, c_n, metric=metric).as_dict()
    t_rev = [float(x or 0) for x in treated.values_list("revenue", flat=True)]
    c_rev = [float(x or 0) for x in control.values_list("revenue", flat=True)]
    revenue = mean_lift(t_rev, c_rev).as_dict() if t_n > 1 and c_n > 1 else None
    all_n = Assignment.objects.filter(campaign=campaign)
    srm = sample_ratio_mismatch(
        {"holdout": all_n.filter(holdout=True).count(), "treated": all_n.filter(holdout=False).count()},
        {"holdout": campaign.holdout_share, "treated": 1 - campaign.holdout_share},
    )
    return {"ready": True, "treated_arm": treated_arm or "all treated", "rate": rate, "revenue": revenue, "srm": srm}


def measured_lift_for_segment(
    user,
    *,
    region_id: int | None = None,
    intervention: str | None = None,
    audience: str | None = None,
    metric: str = "converted",
) -> dict:
    """Pooled measured lift over running, completed or stopped campaigns the user can see (other apps show it),
    optionally only those of one intervention or that targeted one audience segment."""
    campaigns = campaigns_for(user, region_id=region_id).filter(
        state__in=[Campaign.State.RUNNING, Campaign.State.COMPLETED, Campaign.State.STOPPED]
    )
    if intervention:
        campaigns = campaigns.filter(intervention=intervention)
    if audience:
        campaigns = campaigns.filter(audience=audience)
    base = Assignment.objects.filter(campaign__in=campaigns.values("pk"), outcome_at__isnull=False)
    t = base.filter(holdout=False)
    c = base.filter(holdout=True)
    t_n, c_n = t.count(), c.count()
    if not t_n or not c_n:
        return {"ready": False}
    lift = proportion_lift(
        t.filter(**{metric: True}).count(), t_n, c.filter(**{metric: True}).count(), c_n, metric=metric
    )
    return {"ready": True, **lift.as_dict()}


def measured_lift_of_segment(region_id: int, segment: str) -> float | None:
    """The conversion lift (treated rate - holdout rate) measured on the region's campaigns that targeted `segment`,
    else on all the region's measured campaigns; None while nothing is measured there. Audience scores use it
    (registered as `cartportal.extensions.segment_lift`); read as a task limited to that one region."""
    reader = SystemActor("task:segments", [region_id])
    for audience in (segment, None):
        lift = measured_lift_for_segment(reader, region_id=region_id, audience=audience)
        if lift["ready"]:
            return float(lift["difference"])
    return None


def customer_features(user, customer_ids) -> dict[int, dict]:
    """Features recorded on a new assignment (what the uplift model learns from): acquisition source and device,
    plus the segment profile when segments are built."""
    ids = list(customer_ids)
    profiles = profile_features(user, ids)
    rows = Customer.objects.restrict(user, "view").filter(pk__in=ids).values("pk", "acquisition_source", "device")
    return {
        r["pk"]: {"acquisition_source": r["acquisition_source"], "device": r["device"], **profiles.get(r["pk"], {})}
        for r in rows
    }


def conversion_per_visit(user, *, region_id: int | None = None) -> float:
    """Share of visits that converted, over the stored outcomes the user can see."""
    visits = Assignment.objects.restrict(user, "view").filter(outcome_at__isnull=False, visited=True)
    if region_id:
        visits = visits.filter(campaign__region_id=region_id)
    n = visits.count()
    return visits.filter(converted=True).count() / n if n else 0.0


def proposed_for(user, customer) -> dict:
    """What the portal would propose for one customer: the next-best action after cost, or no action. Uplift per
    intervention comes from the active uplift model (trained on stored outcomes) where it has seen the
    intervention, otherwise from the measured lift of that intervention in the customer's region."""
    from cartportal.access import can  # noqa: PLC0415

    if not can(user, "view", customer.region_id):
        return {"action": None, "reason": "not visible"}
    if not customer.consent_marketing or customer.erased_at is not None:
        return {"action": None, "reason": "no marketing consent"}
    uplifts, base_rate = {}, 0.0
    for code in catalogue.CATALOGUE:
        lift = measured_lift_for_segment(user, region_id=customer.region_id, intervention=code)
        if lift.get("ready"):
            uplifts[code] = lift["difference"]
            base_rate = max(base_rate, lift["control_rate"])
    from interventions.uplift.outcomes import uplift_by_intervention  # noqa: PLC0415 (loads CatBoost)

    modelled, target = uplift_by_intervention(customer)
    if target == "visited":  # an uplift in visits, in conversions: times the share of visits that convert
        per_visit = conversion_per_visit(user, region_id=customer.region_id)
        modelled = {code: uplift * per_visit for code, uplift in modelled.items()}
    uplifts.update(modelled)
    order_value = float(customer.orders.aggregate(s=Sum("total"))["s"] or 0) / max(customer.orders.count(), 1)
    code, value = catalogue.next_best_action(uplifts, order_value or 50.0, base_rate, margin=0.3)
    return {
        "action": code,
        "expected_incremental_margin": round(value, 2),
        "reason": "highest expected incremental margin after cost" if code else "no intervention pays for itself",
        "uplift_source": "uplift model" if modelled else "measured lift",
        "uplift": {k: round(v, 4) for k, v in uplifts.items()},
    }


def campaign_results_by_region(user, region_ids: list[int] | None = None, *, as_of=None) -> dict[int, dict]:
    """Per region, over its campaigns with outcomes in both the treated arms and the holdout:
    `recovered_revenue` = sum over campaigns of (mean revenue treated - mean revenue holdout) x treated customers,
    and `lift` = the conversion lift (treated rate - holdout rate) averaged over campaigns, weighted by treated
    customers. Regions without such a campaign are absent (not measured). `as_of`: only the outcomes known by then
    (the figures as they stood at that moment)."""
    known = Q(outcome_at__isnull=False) if as_of is None else Q(outcome_at__lte=as_of)
    per_campaign = (
        Assignment.objects.restrict(user)
        .in_regions(region_ids)
        .filter(known)
        .values("campaign_id", "campaign__region_id")
        .annotate(
            t_n=Count("id", filter=Q(holdout=False)),
            c_n=Count("id", filter=Q(holdout=True)),
            t_conv=Count("id", filter=Q(holdout=False, converted=True)),
            c_conv=Count("id", filter=Q(holdout=True, converted=True)),
            t_rev=Sum("revenue", filter=Q(holdout=False)),
            c_rev=Sum("revenue", filter=Q(holdout=True)),
        )
    )
    totals: dict[int, dict] = {}
    for row in per_campaign:
        if not row["t_n"] or not row["c_n"]:
            continue
        t_n, c_n = row["t_n"], row["c_n"]
        incremental = (float(row["t_rev"] or 0) / t_n - float(row["c_rev"] or 0) / c_n) * t_n
        p1, p0 = row["t_conv"] / t_n, row["c_conv"] / c_n
        region = totals.setdefault(
            row["campaign__region_id"], {"recovered": 0.0, "weighted_lift": 0.0, "treated": 0, "weighted_var": 0.0}
        )
        region["recovered"] += incremental
        region["weighted_lift"] += (p1 - p0) * t_n
        region["weighted_var"] += t_n**2 * (p1 * (1 - p1) / t_n + p0 * (1 - p0) / c_n)
        region["treated"] += t_n
    return {region_id: _region_result(t) for region_id, t in totals.items()}


def _region_result(t: dict) -> dict:
    """The treated-weighted lift with its 95 % CI (the campaigns are independent: their variances add)."""
    lift = t["weighted_lift"] / t["treated"]
    half = 1.959964 * math.sqrt(t["weighted_var"]) / t["treated"]
    return {
        "recovered_revenue": round(t["recovered"], 2),
        "lift": round(lift, 4),
        "lift_ci": [round(lift - half, 4), round(lift + half, 4)],
        "campaigns_treated": t["treated"],
    }
