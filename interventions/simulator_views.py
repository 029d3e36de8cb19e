"""The what-if simulator page: pick an audience, an intervention and its parameters, see the expected effect
(and, for a campaign that has run, the prediction against the measured lift). The page only reads."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.validators import MaxValueValidator
from django.shortcuts import render

from cartportal.access import NotFoundOrForbidden, visible_regions
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import region_filter
from cartportal.services import DomainError
from interventions import simulator
from interventions.catalogue import CATALOGUE
from predictions.price_response.selectors import elasticities


class SimulationForm(forms.Form):
    region = forms.ChoiceField()
    audience = forms.ChoiceField(help_text="A saved audience, as a campaign targets it")
    intervention = forms.ChoiceField(choices=[(c, i.name) for c, i in CATALOGUE.items()])
    discount = forms.FloatField(
        required=False, min_value=0, help_text="Per cent off (empty: the intervention's own discount)"
    )
    holdout_share = forms.FloatField(required=False, min_value=0.0, max_value=0.9, initial=0.1)
    channel = forms.ChoiceField(required=False, choices=[(c, c) for c in simulator.CHANNELS], initial="email")
    message_cost = forms.FloatField(required=False, min_value=0, help_text="Cost per message (empty: catalogue)")
    campaign = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, help_text="Compare with")
    treated_arm = forms.CharField(required=False, max_length=64, help_text="Arm to compare (empty: all treated)")

    def __init__(self, *args, regions=(), audiences=(), campaigns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.code, f"{r.code} — {r.name}") for r in regions]
        self.fields["audience"].choices = [(a["key"], a["label"]) for a in audiences]
        self.fields["campaign"].choices = [("", "—")] + [(c.pk, f"#{c.pk} {c.name}") for c in campaigns]
        limit = settings.CARTPORTAL_MAX_DISCOUNT_RATE * 100
        self.fields["discount"].validators.append(
            MaxValueValidator(limit, f"at most {limit:g} per cent (the guardrail's limit)")
        )


def _plan(form: SimulationForm, regions) -> simulator.Plan:
    data = form.cleaned_data
    region = next(r for r in regions if r.code == data["region"])
    return simulator.Plan(
        region=region,
        audience=data["audience"],
        intervention=data["intervention"],
        discount=None if data["discount"] is None else data["discount"] / 100,
        holdout_share=0.1 if data["holdout_share"] is None else data["holdout_share"],
        channel=data["channel"] or "email",
        message_cost=data["message_cost"],
        campaign_id=data["campaign"],
        treated_arm=data["treated_arm"].strip(),
    )


@login_required
def simulator_page(request):
    rf = region_filter(request)
    regions = list(visible_regions(request.user))
    region = rf.selected or (regions[0] if len(regions) == 1 else None)
    audiences = simulator.audience_choices(request.user, [region.pk] if region else rf.region_ids)
    campaigns = list(simulator.campaigns_with_outcomes(request.user, region)) if region else []
    submitted = "intervention" in request.GET
    initial = {"region": region.code if region else None}
    form = SimulationForm(
        request.GET if submitted else None, initial=initial, regions=regions, audiences=audiences, campaigns=campaigns
    )
    result = None
    if submitted and form.is_valid():
        try:
            result = simulator.simulate(request.user, _plan(form, regions))
        except (DomainError, NotFoundOrForbidden) as exc:
            form.add_error(None, getattr(exc, "message", "no such region"))
    if wants_csv(request) and result:
        return csv_response("simulation.csv", ["figure", "expected", "low", "high"], _csv_rows(result))
    return render(
        request,
        "interventions/simulator.html",
        {
            "form": form,
            "region_filter": rf,
            "region": region,
            "audiences": audiences,
            "result": result,
            "elasticities": elasticities(request.user, region_ids=[region.pk]) if region else None,
            "max_discount": settings.CARTPORTAL_MAX_DISCOUNT_RATE,
        },
    )


FIGURES = ("incremental_conversions", "incremental_revenue", "cost", "net_margin")


def _csv_rows(result: dict):
    for key in ("audience", "without_consent_or_erased", "over_contact_cap", "reach", "treated", "holdout"):
        yield [f"reach.{key}", result["reach"][key], "", ""]
    for metric, rate in result.get("uplift", {}).items():
        if isinstance(rate, dict):
            yield [f"lift.{metric}", rate["uplift"], rate["low"], rate["high"]]
    for key in FIGURES:
        if result.get(key):
            yield [key, result[key]["expected"], result[key]["low"], result[key]["high"]]
