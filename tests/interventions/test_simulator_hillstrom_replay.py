"""Acceptance: the what-if simulator's prediction for a replayed Hillstrom campaign (Womens E-Mail to a chosen
audience) contains the lift measured on that audience in the held-out half.

The file is split 50/50 (stratified by arm and visit, seed 42). The first half is loaded as a past campaign and
the uplift model learns from its stored outcomes only; the second half is loaded afterwards, in a region of its
own, as the campaign that ran. The audience is a saved audience of the second half: the customers who had bought
women's merchandise (Hillstrom's `womens` flag)."""

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from cartportal.access import SystemActor
from interventions.loaders import load_hillstrom
from interventions.simulator import Plan, simulate
from interventions.uplift.outcomes import outcomes_uplift_train
from segments.models import AudienceDefinition, AudienceMember

pytestmark = pytest.mark.django_db
ACTOR = SystemActor("command:load_hillstrom")
FAST = {"iterations": 150, "depth": 6}  # fewer trees than the default keep this test short
SEGMENT = "Bought womenswear"


def _halves(data_dir, tmp_path):
    df = pd.read_csv(data_dir / "hillstrom.csv")
    strata = df["segment"].astype(str) + "_" + df["visit"].astype(str)
    train, held = train_test_split(df, test_size=0.5, stratify=strata, random_state=42)
    paths = tmp_path / "hillstrom-train.csv", tmp_path / "hillstrom-held.csv"
    train.to_csv(paths[0], index=False)
    held.to_csv(paths[1], index=False)
    return paths, held.reset_index(drop=True)


def _audience(campaign, held: pd.DataFrame) -> AudienceDefinition:
    ids = dict(campaign.assignments.values_list("customer__external_id", "customer_id"))
    chosen = [ids[f"hillstrom-held-{i}"] for i in held.index[held["womens"] == 1]]
    audience = AudienceDefinition.objects.create(
        region=campaign.region,
        name="Replay",
        universe="everyone",
        result={"segments": [{"segment": SEGMENT, "size": len(chosen)}]},
    )
    AudienceMember.objects.bulk_create(
        [AudienceMember(audience=audience, customer_id=c, region=campaign.region, segment=SEGMENT) for c in chosen]
    )
    return audience


def test_simulated_womens_email_contains_the_held_out_lift(world, data_dir, tmp_path):
    (train_path, held_path), held = _halves(data_dir, tmp_path)
    past = load_hillstrom(train_path, actor=ACTOR, region_code="HILLSTROM-PAST", customer_prefix="hillstrom-train")
    learner_scope = SystemActor("task:train_uplift", region_ids=[past.region_id])
    version, report, promoted = outcomes_uplift_train(
        actor=learner_scope, target="visited", treated_arm="Womens E-Mail", params=FAST
    )
    assert promoted and report["train_rows"] + report["test_rows"] == version.card["rows"]
    replayed = load_hillstrom(held_path, actor=ACTOR, region_code="HILLSTROM", customer_prefix="hillstrom-held")
    audience = _audience(replayed, held)

    plan = Plan(
        region=replayed.region,
        audience=f"strategy:{audience.pk}:{SEGMENT}",  # as a campaign targets it
        intervention="reminder",
        discount=0.0,
        holdout_share=0.5,
        campaign_id=replayed.pk,
        treated_arm="Womens E-Mail",
    )
    result = simulate(world.executive, plan)
    assert result["ready"] and result["uplift"]["source"] == f"uplift model v{version.pk}"
    assert result["reach"]["audience"] == result["reach"]["reach"] == int((held["womens"] == 1).sum())

    # the measured lift is the audience's own: Womens E-Mail against No E-Mail among held-out womenswear buyers
    chosen = held[held["womens"] == 1]
    rates = chosen.groupby("segment")["visit"].mean()
    visited = result["measured"]["metrics"]["visited"]
    assert visited["measured"]["difference"] == pytest.approx(rates["Womens E-Mail"] - rates["No E-Mail"])
    assert visited["measured"]["treated_n"] == int((chosen["segment"] == "Womens E-Mail").sum())

    predicted = visited["predicted"]
    print(f"replayed Womens E-Mail: visited {visited}; converted {result['measured']['metrics']['converted']}")
    assert visited["within_interval"], visited
    assert predicted["low"] <= visited["measured"]["difference"] <= predicted["high"]
    assert predicted["low"] > 0 and predicted["high"] - predicted["low"] < 0.06, predicted  # informative
    converted = result["measured"]["metrics"]["converted"]
    assert converted["within_interval"], converted
