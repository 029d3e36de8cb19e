"""Campaign pages: the list (with a draft form), the approvals inbox, the detail with holdout results, and
the approve / reject forms. Views parse input, call one service or selector, and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from cartportal.access import can, visible_regions
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import analysis_filter
from cartportal.services import DomainError
from interventions import assignment, audiences, fairness, killswitch, preview, selectors, services
from interventions.catalogue import CATALOGUE
from interventions.delivery import webhooks
from interventions.forms import CampaignDraftForm, DecisionForm, KillSwitchForm
from interventions.models import Campaign
from interventions.services import kill_switch_engaged

CSV_HEADER = ["id", "region", "name", "intervention", "audience", "state", "holdout_share", "assigned", "created_at"]


def _csv_rows(campaigns):
    for c in campaigns:
        yield [
            c.pk,
            c.region.code,
            c.name,
            c.intervention,
            c.audience,
            c.state,
            c.holdout_share,
            c.assigned,
            c.created_at.isoformat(),
        ]


@login_required
def campaign_list(request):
    rf = analysis_filter(request)
    changeable = list(visible_regions(request.user, "change"))
    form = CampaignDraftForm(request.POST or None, regions=changeable)
    if request.method == "POST" and form.is_valid():
        region = next(r for r in changeable if r.code == form.cleaned_data["region"])
        try:
            audience_kind, audience_ref = audiences.parse_audience(form.cleaned_data["audience"])
            campaign = services.campaign_create_draft(
                actor=request.user,
                region=region,
                name=form.cleaned_data["name"],
                intervention=form.cleaned_data["intervention"],
                arms=form.arms(),
                allocation=form.cleaned_data["allocation"],
                audience_kind=audience_kind,
                audience_ref=audience_ref,
                holdout_share=form.cleaned_data["holdout_share"],
                webhook_url=form.cleaned_data["webhook_url"],
                reason="drafted in the portal",
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("interventions:campaign", pk=campaign.pk)
    campaigns = selectors.campaigns_for(request.user, state=request.GET.get("state", "")).filter(
        rf.period_q("created_at"), region_id__in=rf.region_ids
    )
    if rf.segment:
        campaigns = selectors.campaigns_targeting(campaigns, rf.segment)
        rf.applied.add("segment")
    if wants_csv(request):
        return csv_response("campaigns.csv", CSV_HEADER, _csv_rows(campaigns))
    page = Paginator(campaigns, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "interventions/campaigns.html",
        {
            "page": page,
            "region_filter": rf,
            "filters": rf,
            "form": form if changeable else None,
            "audience_choices": audiences.audience_choices(request.user, [r.pk for r in changeable]),
            "catalogue": CATALOGUE.values(),
            "kill_switch": kill_switch_engaged(),
            "states": services.S.choices,
        },
    )


@login_required
def approvals(request):
    pending = selectors.approvals_for(request.user)
    if wants_csv(request):
        return csv_response("approvals.csv", CSV_HEADER, _csv_rows(pending))
    page = Paginator(pending, 25).get_page(request.GET.get("page"))
    return render(request, "interventions/approvals.html", {"page": page})


@login_required
def campaign_detail(request, pk: int):
    campaign = selectors.campaign_for(request.user, pk)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ("submit", "start", "complete", "stop"):
            messages.error(request, "Unknown action.")
        else:
            try:
                services.campaign_transition(
                    actor=request.user,
                    campaign_id=campaign.pk,
                    action=action,
                    reason=request.POST.get("reason", "").strip(),
                )
            except DomainError as exc:
                messages.error(request, exc.message)
        return redirect("interventions:campaign", pk=campaign.pk)
    arms = selectors.arm_summary(campaign)
    if wants_csv(request):
        return csv_response(
            f"campaign-{campaign.pk}-arms.csv",
            ["arm", "holdout", "customers", "visits", "conversions", "revenue"],
            ([a["arm"], a["holdout"], a["n"], a["visits"], a["conversions"], a["revenue"]] for a in arms),
        )
    lift = selectors.campaign_lift(campaign)
    chart = [
        {
            "arm": a["arm"],
            "conversion": a["conversions"] / a["n"] if a["n"] else 0,
            "visit": a["visits"] / a["n"] if a["n"] else 0,
        }
        for a in arms
    ]
    return render(
        request,
        "interventions/campaign.html",
        {
            "campaign": campaign,
            "arms": arms,
            "lift": lift,
            "chart": chart,
            "intervention": CATALOGUE.get(campaign.intervention),
            "preview": _preview(request.user, campaign),
            "can_approve": services.can_approve(request.user, campaign),
            "fairness": fairness.campaign_fairness(request.user, campaign),
            "can_change": can(request.user, "change", campaign.region_id),
            "job": campaign.assign_job,
            "propensities": selectors.arm_propensities(campaign),
            "deliveries": webhooks.delivery_counts(campaign),
            "dead_letters": webhooks.dead_letters(campaign)[:100],
        },
    )


def _preview(user, campaign) -> dict | None:
    """Sample messages while the campaign is still to be decided or started (afterwards the arms speak)."""
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.PENDING, Campaign.State.APPROVED):
        return None
    return preview.campaign_preview(user, campaign)


def _decide(request, pk: int, action: str):
    campaign = selectors.campaign_for(request.user, pk, "approve")
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_transition(
                actor=request.user, campaign_id=campaign.pk, action=action, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Campaign {action}d.")
            return redirect("interventions:campaign", pk=campaign.pk)
    reach = assignment.campaign_reach(request.user, campaign)
    context = {"campaign": campaign, "form": form, "action": action, "reach": reach}
    return render(request, "interventions/decide.html", {**context, "preview": _preview(request.user, campaign)})


@login_required
def campaign_approve(request, pk: int):
    return _decide(request, pk, "approve")


@login_required
def campaign_reject(request, pk: int):
    return _decide(request, pk, "reject")


@login_required
def kill_switch(request):
    """Every switch's state for anyone signed in; executives and administrators engage or release one."""
    regions = list(visible_regions(request.user))
    may_change = killswitch.may_change_kill_switch(request.user)
    form = KillSwitchForm(request.POST or None, regions=regions)
    if request.method == "POST":
        if not may_change:
            return render(request, "interventions/kill_switch.html", {"denied": True}, status=403)
        if form.is_valid():
            region = next((r for r in regions if r.code == form.cleaned_data["region"]), None)
            try:
                killswitch.kill_switch_set(
                    actor=request.user,
                    engaged=form.cleaned_data["engaged"],
                    reason=form.cleaned_data["reason"],
                    region=region,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Kill switch changed.")
                return redirect("interventions:kill_switch")
    switches = killswitch.kill_switches()
    visible = {r.code for r in regions}
    switches = [s for s in switches if s["region"] is None or s["region"] in visible]
    return render(
        request,
        "interventions/kill_switch.html",
        {"switches": switches, "form": form if may_change else None, "engaged": kill_switch_engaged()},
    )
