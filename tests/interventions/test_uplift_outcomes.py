"""Uplift from stored outcomes: the Hillstrom test replayed through the campaign engine, re-loaded without
duplicates, turned back into a training frame from the assignments, trained and checked on a held-out half, and
used by the next-best action."""

import pandas as pd
import pytest

from cartportal.access import SystemActor
from interventions.loaders import load_hillstrom
from interventions.models import Assignment, Campaign
from interventions.selectors import proposed_for
from interventions.uplift.data import load_experiment
from interventions.uplift.evaluate import scores, split
from interventions.uplift.outcomes import experiment_from_outcomes, outcomes_uplift_train, uplift_by_intervention
from predictions.models import ModelVersion
from predictions.registry import load_version

pytestmark = pytest.mark.django_db
ACTOR = SystemActor("task:uplift")
FAST = {"iterations": 150, "depth": 6}  # fewer trees than the default keep this test short


ROWS = 24000  # the first rows of the file: enough for a clear held-out uplift, quick to load and train


def test_uplift_trained_from_replayed_hillstrom_outcomes(data_dir, world, tmp_path):
    path = tmp_path / "hillstrom.csv"
    pd.read_csv(data_dir / "hillstrom.csv", nrows=ROWS).to_csv(path, index=False)
    campaign = load_hillstrom(path, actor=ACTOR)
    again = load_hillstrom(path, actor=ACTOR)
    assert again.pk == campaign.pk and Campaign.objects.filter(region=campaign.region).count() == 1
    assert Assignment.objects.filter(campaign=campaign).count() == ROWS

    stored = experiment_from_outcomes(ACTOR, target="visited", treated_arm="Womens E-Mail")
    from_file = load_experiment(path, treatment="Womens E-Mail", control="No E-Mail", target="visit")
    assert len(stored.target) == len(from_file.target) > 15000
    assert set(stored.features["intervention"]) == {"reminder"}
    columns = sorted(from_file.features.columns)
    pd.testing.assert_frame_equal(
        stored.features[columns].reset_index(drop=True), from_file.features[columns], check_dtype=False
    )
    assert stored.target.tolist() == from_file.target.tolist()
    assert stored.treatment.tolist() == from_file.treatment.tolist()

    version, report, promoted = outcomes_uplift_train(
        actor=ACTOR, target="visited", treated_arm="Womens E-Mail", params=FAST
    )
    assert promoted and ModelVersion.objects.get(kind="uplift", status="active").pk == version.pk
    assert report["test_rows"] + report["train_rows"] == len(stored.target)
    # held out, on a third of the file with a short model: clearly better than a random ranking (Qini 0), and the
    # top 30 % of predicted uplift gains more than the average effect of the e-mail (4.5 points on visits)
    assert report["qini"] > 0.02 and report["uplift_at_30"] > 0.045, report
    assert version.card["interventions_seen"] == ["reminder"] and version.metrics["qini"] == report["qini"]

    # the ten customers with the highest and the ten with the lowest predicted uplift (of the first thousand)
    learner = load_version(version)
    sample = list(
        Assignment.objects.filter(campaign=campaign).order_by("customer_id").select_related("customer")[:1000]
    )
    features = pd.DataFrame([a.features for a in sample])[sorted(sample[0].features)].assign(intervention="reminder")
    order = learner.predict(features.astype({c: str for c in learner.cat_features})).argsort()
    customers = [sample[i].customer for i in list(order[:10]) + list(order[-10:])]
    visited = Assignment.objects.filter(campaign=campaign, visited=True)
    per_visit = visited.filter(converted=True).count() / visited.count()
    assert 0.03 < per_visit < 0.1
    actions = set()
    for customer in customers:
        visits, target = uplift_by_intervention(customer)
        uplift = visits["reminder"] * per_visit  # the model is of visits: in conversions
        proposal = proposed_for(world.executive, customer)
        assert target == "visited" and proposal["uplift_source"] == "uplift model"
        assert proposal["uplift"]["reminder"] == round(uplift, 4)
        pays = uplift * 50.0 * 0.3 - 0.02 > 0  # no orders: order value 50; reminder costs 0.02 and gives nothing away
        assert proposal["action"] == ("reminder" if pays else None)
        actions.add(proposal["action"])
    assert actions == {"reminder", None}

    # trained again on more rows (every e-mail arm against the holdout): a different held-out half, so the
    # active model is scored on the new half and the new one replaces it only when its Qini there is higher
    newer, newer_report, newer_promoted = outcomes_uplift_train(actor=ACTOR, target="visited", params=FAST)
    assert newer.holdout_fingerprint != version.holdout_fingerprint
    both = experiment_from_outcomes(ACTOR, target="visited")
    _, X_te, _, y_te, _, t_te = split(both.features, both.target, both.treatment, 42)
    old_qini = scores(y_te, learner.predict(X_te[version.features]), t_te)["qini"]
    assert newer_promoted == (newer_report["qini"] > old_qini)
    active = ModelVersion.objects.get(kind="uplift", status="active")
    assert active.pk == (newer.pk if newer_promoted else version.pk)
