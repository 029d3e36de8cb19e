"""What-if simulator: what a campaign would do before it is drafted, and how that compares once it has run.

A manager picks an audience (any saved audience a campaign may target, resolved by `interventions.audiences`), an
intervention and its parameters (discount, holdout share, channel and cost per message). The simulation is a read;
nothing is written.

- Reach: the audience's customers who agreed to marketing, are not erased, and are under the contact cap (the
  rules and the cap of campaign assignment); split into treated and holdout by the holdout share.
- Uplift per treated customer: the active uplift model's mean predicted effect over the audience when it has seen
  the intervention (a model of visits is turned into conversions with the measured share of visits that
  convert), otherwise the measured lift of the intervention in the region's campaigns.
- Interval: the measured lift of a campaign is the effect plus sampling noise, so the interval combines how
  precisely the data the estimate comes from measured the effect (the model's training rows, or the measured
  campaigns) with the sampling error of measuring it on this audience's treated and holdout sizes. It is the range
  a measurement of this campaign is expected to fall in (95 %).
- Price response: a discount multiplies the treated customers' conversions by (1 - d) ** elasticity, with the
  region's elasticity pooled over its categories (and its interval).
- Value: order value from the published value model (expected spend per expected purchase), else the audience's
  mean order, else the revenue per conversion measured in the region's campaigns. Revenue, cost (messages and the
  discount given on every treated conversion) and net margin (at CARTPORTAL_GROSS_MARGIN) follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import Avg, Count, Sum
from django.utils import timezone
from scipy import stats

from cartportal.access import NotFoundOrForbidden, can
from cartportal.models import Customer, Order, Region
from cartportal.services import DomainError
from interventions import assignment, audiences, catalogue, selectors
from interventions.holdout import proportion_lift
from interventions.models import Assignment, Campaign
from predictions.price_response.selectors import elasticities
from predictions.value.selectors import expected_order_value

Z = float(stats.norm.ppf(0.975))
CHANNELS = ("email", "sms", "push")


@dataclass
class Plan:
    region: Region
    audience: str
    intervention: str
    discount: float | None = None
    holdout_share: float = 0.1
    channel: str = "email"
    message_cost: float | None = None
    campaign_id: int | None = None
    treated_arm: str = ""


# --- audiences -----------------------------------------------------------------------------------------
def audience_choices(user, region_ids: list[int] | None) -> list[dict]:
    """The saved audiences a campaign may target (the same one-line keys as the campaign form)."""
    return [{"key": key, "label": label} for key, label in audiences.audience_choices(user, region_ids)]


def campaign_key(key: str) -> str:
    """The campaign form's one-line audience; the simulator's earlier keys (`segment:<kind>:<code>`,
    `audience:<id>[:<segment>]`) are still understood, so saved links and API clients keep working."""
    head, _, rest = (key or "").strip().partition(":")
    if head == "segment":
        return rest
    if head == "audience":
        return f"strategy:{rest}"
    return key


def audience_members(user, region: Region, key: str) -> tuple[list[int], str]:
    """Customer ids of the audience in that region, and its label, resolved exactly as a campaign's audience is; a
    DomainError says what is wrong with the key (unknown kind, segment, audience or list)."""
    kind, ref = audiences.parse_audience(campaign_key(key))
    if not kind:
        raise DomainError("choose an audience", code="unknown_audience")
    ref, label = audiences.audience_resolve(user, region, kind, ref)
    return list(audiences.audience_ids(user, region.pk, kind, ref)), label


def reach(customer_ids: list[int], holdout_share: float) -> dict:
    """Who a campaign would reach if it started now: marketing consent, not erased, under the contact cap (the
    rules and the cap of campaign assignment, `assignment.eligibility`)."""
    eligible = list(
        Customer.objects.filter(pk__in=customer_ids, consent_marketing=True, erased_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    contacts = assignment.contacts_in_period(eligible, timezone.now())
    under_cap = [cid for cid in eligible if contacts[cid] < settings.CARTPORTAL_CONTACT_CAP]
    reached = len(under_cap)
    holdout = int(round(reached * holdout_share))
    return {
        "audience": len(customer_ids),
        "without_consent_or_erased": len(customer_ids) - len(eligible),
        "over_contact_cap": len(eligible) - reached,
        "over_weekly_cap": len(eligible) - reached,  # the earlier name of the same figure, kept for API clients
        "reach": reached,
        "treated": reached - holdout,
        "holdout": holdout,
        "eligible_ids": under_cap,
    }


# --- uplift ----------------------------------------------------------------------------------------------
def _features(user, customer_ids: list[int]) -> list[dict]:
    """Each customer's features as last recorded on an assignment, else as they are now."""
    recorded = dict(
        Assignment.objects.filter(customer_id__in=customer_ids)
        .exclude(features={})
        .order_by("customer_id", "-assigned_at", "-id")
        .distinct("customer_id")
        .values_list("customer_id", "features")
    )
    missing = [cid for cid in customer_ids if cid not in recorded]
    current = selectors.customer_features(user, missing) if missing else {}
    return [recorded.get(cid) or current.get(cid, {}) for cid in customer_ids]


def _model_uplift(user, intervention: str, customer_ids: list[int]) -> dict | None:
    from interventions.uplift.outcomes import predicted_uplift  # noqa: PLC0415 (loads CatBoost)
    from predictions import registry  # noqa: PLC0415

    try:
        version, learner = registry.load_active_version("uplift")
    except registry.RegistryError:
        return None
    if intervention not in version.card.get("interventions_seen", []) or not customer_ids:
        return None
    uplift = predicted_uplift(version, learner, _features(user, customer_ids), intervention)
    card = version.card
    se_model = None
    if card.get("treated_rows") and card.get("control_rows"):
        t, c = card["treated_rate"], card["control_rate"]
        se_model = math.sqrt(t * (1 - t) / card["treated_rows"] + c * (1 - c) / card["control_rows"])
    return {
        "source": f"uplift model v{version.pk}",
        "metric": card.get("target", "visited"),
        "uplift": float(np.mean(uplift)),
        "se_model": se_model,
        "control_rate": card.get("control_rate"),
    }


def _measured_uplift(user, region: Region, intervention: str) -> dict | None:
    lift = selectors.measured_lift_for_segment(user, region_id=region.pk, intervention=intervention)
    if not lift.get("ready"):
        return None
    return {
        "source": "measured lift of the region's campaigns",
        "metric": "converted",
        "uplift": lift["difference"],
        "se_model": (lift["ci_high"] - lift["ci_low"]) / (2 * Z),
        "control_rate": lift["control_rate"],
    }


def _rate(uplift: float, se_model: float, p0: float, n_treated: int, n_control: int) -> dict:
    """The lift a measurement would show: the effect, with the estimate's and the measurement's uncertainty."""
    p1 = min(max(p0 + uplift, 0.0), 1.0)
    sampling = math.sqrt(p1 * (1 - p1) / n_treated + p0 * (1 - p0) / n_control) if n_treated and n_control else 0.0
    se = math.sqrt(se_model**2 + sampling**2)
    return {
        "uplift": uplift,
        "low": uplift - Z * se,
        "high": uplift + Z * se,
        "control_rate": p0,
        "se_estimate": se_model,
    }


def predicted_rates(user, plan: Plan, customer_ids: list[int], n_treated: int, n_control: int) -> dict | None:
    """Per metric (visited when the model is of visits, and converted): the predicted lift with its interval."""
    found = _model_uplift(user, plan.intervention, customer_ids) or _measured_uplift(
        user, plan.region, plan.intervention
    )
    if found is None:
        return None
    se_model = found["se_model"] or 0.0
    p0 = found["control_rate"] or 0.0
    rates = {"source": found["source"]}
    if found["metric"] == "visited":
        rates["visited"] = _rate(found["uplift"], se_model, p0, n_treated, n_control)
        per_visit = selectors.conversion_per_visit(user, region_id=plan.region.pk)
        found = {**found, "uplift": found["uplift"] * per_visit, "control_rate": p0 * per_visit}
        se_model, p0 = se_model * per_visit, p0 * per_visit
        rates["conversion_per_visit"] = per_visit
    rates["converted"] = _rate(found["uplift"], se_model, p0, n_treated, n_control)
    return rates


# --- price response and value ------------------------------------------------------------------------------
def region_elasticity(user, region: Region) -> dict | None:
    """The region's own-price elasticity pooled over its categories (weighted by observations)."""
    found = elasticities(user, region_ids=[region.pk])
    if not found["ready"]:
        return None
    rows = list(found["category"].values())
    weights = np.array([r["observations"] for r in rows], dtype=float)
    weights /= weights.sum()
    value = float(weights @ np.array([r["elasticity"] for r in rows]))
    se = float(math.sqrt(weights**2 @ np.array([r["std_error"] ** 2 for r in rows])))
    return {"elasticity": value, "low": value - Z * se, "high": value + Z * se, "categories": len(rows)}


def order_value(user, region: Region, customer_ids: list[int]) -> tuple[float | None, str]:
    value = expected_order_value(user, customer_ids)
    if value:
        return value, "value model (expected spend per expected purchase)"
    orders = Order.objects.restrict(user).filter(customer_id__in=customer_ids, total__gt=0)
    mean = orders.exclude(status__in=["cancelled", "returned"]).aggregate(v=Avg("total"))["v"]
    if mean:
        return float(mean), "the audience's mean order"
    measured = Assignment.objects.restrict(user).filter(campaign__region=region, converted=True)
    totals = measured.aggregate(n=Count("id"), revenue=Sum("revenue"))
    if totals["n"] and totals["revenue"]:
        return float(totals["revenue"]) / totals["n"], "revenue per conversion in the region's campaigns"
    return None, "no order value known for this audience"


# --- the simulation ---------------------------------------------------------------------------------------
def _check(user, plan: Plan) -> catalogue.Intervention:
    if not can(user, "view", plan.region.pk):
        raise NotFoundOrForbidden()
    item = catalogue.get(plan.intervention) if plan.intervention in catalogue.CATALOGUE else None
    if item is None:
        raise DomainError(f"unknown intervention {plan.intervention!r}; choose one of {', '.join(catalogue.CATALOGUE)}")
    limit = settings.CARTPORTAL_MAX_DISCOUNT_RATE
    if plan.discount is not None and not 0 <= plan.discount <= limit:
        raise DomainError(f"discount must be between 0 and {limit:.0%} (the guardrail's limit)")
    if not 0 <= plan.holdout_share < 1:
        raise DomainError("holdout share must be at least 0 and below 1")
    if plan.channel not in CHANNELS:
        raise DomainError(f"unknown channel {plan.channel!r}; choose one of {', '.join(CHANNELS)}")
    if plan.message_cost is not None and plan.message_cost < 0:
        raise DomainError("cost per message cannot be negative")
    return item


def simulate(user, plan: Plan) -> dict:
    """The expected effect of the plan on its audience (see the module's description)."""
    item = _check(user, plan)
    members, label = audience_members(user, plan.region, plan.audience)
    reached = reach(members, plan.holdout_share)
    ids = reached.pop("eligible_ids")
    discount = item.discount_rate if plan.discount is None else plan.discount
    result = {
        "region": plan.region.code,
        "audience": {"key": plan.audience, "label": label},
        "intervention": item.code,
        "channel": plan.channel,
        "discount": discount,
        "holdout_share": plan.holdout_share,
        "reach": reached,
        "notes": [],
    }
    if plan.channel != "email":
        result["notes"].append("uplift comes from campaigns as measured, whatever channel they used")
    rates = predicted_rates(user, plan, ids, reached["treated"], reached["holdout"]) if ids else None
    if rates is None:
        result["ready"] = False
        result["reason"] = (
            "nobody in this audience can be reached"
            if not ids
            else f"no uplift model has seen {item.code} and no campaign of {item.code} has measured outcomes here yet"
        )
        return result
    result.update(ready=True, uplift=rates)
    result.update(_money(user, plan, item, ids, reached["treated"], rates["converted"], discount, result["notes"]))
    if plan.campaign_id:
        result["measured"] = measured_against(user, plan, members, rates)
    return result


def _money(user, plan, item, ids, n_treated, converted, discount, notes) -> dict:
    multiplier = {"expected": 1.0, "low": 1.0, "high": 1.0}
    price = None
    if discount > 0:
        price = region_elasticity(user, plan.region)
        if price is None:
            notes.append("no price response is estimated for this region: the discount's own effect is left out")
        else:
            multiplier = {
                k: (1 - discount) ** price[e] for k, e in (("expected", "elasticity"), ("low", "high"), ("high", "low"))
            }
    p0 = converted["control_rate"]
    baseline = p0 * n_treated
    treated = {
        "expected": (p0 + converted["uplift"]) * multiplier["expected"] * n_treated,
        "low": max(p0 + converted["low"], 0.0) * multiplier["low"] * n_treated,
        "high": (p0 + converted["high"]) * multiplier["high"] * n_treated,
    }
    incremental = {k: v - baseline for k, v in treated.items()}
    value, value_source = order_value(user, plan.region, ids)
    per_message = item.fixed_cost if plan.message_cost is None else plan.message_cost
    out = {
        "price_response": price,
        "incremental_conversions": _rounded(incremental, 1),
        "order_value": round(value, 2) if value else None,
        "order_value_source": value_source,
    }
    if value is None:
        return out
    margin = settings.CARTPORTAL_GROSS_MARGIN
    revenue = {k: t * value * (1 - discount) - baseline * value for k, t in treated.items()}
    cost = {k: per_message * n_treated + discount * value * t for k, t in treated.items()}
    net = {
        k: t * value * (margin - discount) - baseline * value * margin - per_message * n_treated
        for k, t in treated.items()
    }
    return {
        **out,
        "incremental_revenue": _rounded(revenue, 2),
        "cost": _rounded(cost, 2),
        "net_margin": _rounded(net, 2),
        "gross_margin": margin,
        "cost_per_message": per_message,
    }


def _rounded(values: dict, digits: int) -> dict:
    return {k: round(v, digits) for k, v in values.items()}


# --- predicted against measured ---------------------------------------------------------------------------
def campaigns_with_outcomes(user, region: Region):
    return selectors.campaigns_for(user, region_id=region.pk).filter(
        state__in=[Campaign.State.RUNNING, Campaign.State.COMPLETED, Campaign.State.STOPPED]
    )


def measured_against(user, plan: Plan, members: list[int], rates: dict) -> dict:
    """The campaign's measured lift on the audience's customers (a treated arm, or all, against the holdout), and
    the prediction recomputed for the arm sizes the campaign actually had."""
    campaign = campaigns_with_outcomes(user, plan.region).filter(pk=plan.campaign_id).first()
    if campaign is None:
        raise DomainError(f"no campaign {plan.campaign_id} with outcomes in region {plan.region.code}")
    rows = Assignment.objects.filter(campaign=campaign, customer_id__in=members, outcome_at__isnull=False)
    treated = rows.filter(holdout=False, **({"arm": plan.treated_arm} if plan.treated_arm else {}))
    control = rows.filter(holdout=True)
    n1, n0 = treated.count(), control.count()
    if not n1 or not n0:
        return {"ready": False, "reason": "the campaign has no outcomes in both arms for this audience"}
    out = {
        "ready": True,
        "campaign": campaign.pk,
        "treated_arm": plan.treated_arm or "all treated",
        "metrics": {},
        "n_treated": n1,
        "n_holdout": n0,
        "empty": "",
    }
    for metric in ("visited", "converted"):
        if metric not in rates:
            continue
        t_hits, c_hits = treated.filter(**{metric: True}).count(), control.filter(**{metric: True}).count()
        events = t_hits + c_hits
        lift = proportion_lift(t_hits, n1, c_hits, n0, metric=metric).as_dict()
        predicted = rates[metric]
        again = _rate(predicted["uplift"], predicted["se_estimate"], predicted["control_rate"], n1, n0)
        out["metrics"][metric] = {
            "measured": lift,
            "predicted": again,
            # no event in either arm measures nothing (its interval collapses to 0 to 0): not counted as a hit
            "within_interval": again["low"] <= lift["difference"] <= again["high"] if events else None,
        }
        if not events:
            out["empty"] = f"no {metric} customer in either arm, so the lift cannot be measured yet"
    return out
