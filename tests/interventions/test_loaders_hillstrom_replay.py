"""Replaying the Hillstrom e-mail experiment through the campaign engine reproduces the published rates."""

import pytest

from cartportal.access import SystemActor
from interventions.loaders import load_hillstrom
from interventions.models import Assignment
from interventions.selectors import arm_summary, campaign_lift


@pytest.mark.django_db
def test_replay_reproduces_published_visit_rates_and_lift_ci(data_dir):
    campaign = load_hillstrom(data_dir / "hillstrom.csv", actor=SystemActor("command:load_hillstrom"))
    assert Assignment.objects.filter(campaign=campaign).count() == 64000
    arms = {r["arm"]: r for r in arm_summary(campaign)}
    womens = arms["Womens E-Mail"]["visits"] / arms["Womens E-Mail"]["n"]
    control = arms["No E-Mail"]["visits"] / arms["No E-Mail"]["n"]
    assert round(womens * 100, 2) == 15.14
    assert round(control * 100, 2) == 10.62

    lift = campaign_lift(campaign, treated_arm="Womens E-Mail", metric="visited")
    rate = lift["rate"]
    assert rate["treated_n"] == arms["Womens E-Mail"]["n"] and rate["control_n"] == arms["No E-Mail"]["n"]
    assert rate["ci_low"] <= womens - control <= rate["ci_high"]
    assert 0.035 < rate["ci_low"] < rate["ci_high"] < 0.055
    assert rate["p_value"] < 1e-10
    # the control arm is a third of the file, exactly as configured: no sample-ratio mismatch
    assert lift["srm"]["mismatch"] is False
    assert lift["revenue"]["difference"] > 0
