"""The allocation policy and its off-policy estimators on real logged experiments: evaluate_policy on Hillstrom,
the estimators on the Open Bandit logs (real propensities), and Thompson sampling replayed on Hillstrom."""

import json
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from interventions.allocation import offpolicy
from interventions.allocation.thompson import replay

KEYS = {"policy_value", "policy_value_ci", "ipw", "snipw", "best_single_arm", "best_single_arm_value", "arm_shares"}


def _run(*args) -> dict:
    out = StringIO()
    call_command("evaluate_policy", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_hillstrom_policy_is_at_least_the_best_single_arm_on_the_held_out_half(data_dir):
    result = _run(str(data_dir / "hillstrom.csv"), "--arm-col", "segment", "--reward-col", "visit", "--uniform")
    assert set(result) == KEYS
    assert result["best_single_arm"] == "Mens E-Mail"
    assert abs(result["best_single_arm_value"] - 0.1827) < 0.0015
    assert result["policy_value"] >= result["best_single_arm_value"]
    low, high = result["policy_value_ci"]
    assert low < result["policy_value"] < high and high - low < 0.03
    assert abs(result["ipw"] - result["policy_value"]) < 0.005 and abs(result["snipw"] - result["policy_value"]) < 0.005
    assert abs(sum(result["arm_shares"].values()) - 1) < 1e-3 and result["arm_shares"]["Mens E-Mail"] > 0.95


def test_policy_with_context_reports_its_shares_and_a_spend_reward(data_dir):
    result = _run(
        str(data_dir / "hillstrom.csv"),
        "--arm-col",
        "segment",
        "--reward-col",
        "spend",
        "--uniform",
        "--features",
        "channel,zip_code",
    )
    assert set(result) == KEYS and result["best_single_arm"] == "Mens E-Mail"
    assert result["policy_value_ci"][0] < result["best_single_arm_value"] < result["policy_value_ci"][1]
    assert result["arm_shares"]["No E-Mail"] < 0.05


def test_bad_columns_and_files_are_clear_errors(data_dir, tmp_path):
    with pytest.raises(CommandError, match="not in the file: arm"):
        _run(str(data_dir / "hillstrom.csv"), "--arm-col", "arm", "--reward-col", "visit", "--uniform")
    with pytest.raises(CommandError, match="not a number"):
        _run(str(data_dir / "hillstrom.csv"), "--arm-col", "segment", "--reward-col", "channel", "--uniform")
    semicolons = tmp_path / "log.csv"
    semicolons.write_text("arm;won;p\na;1;0.5\nb;0;0.5\na;0;1.5\nb;1;0.5\n")
    with pytest.raises(CommandError, match="probability"):
        _run(str(semicolons), "--arm-col", "arm", "--reward-col", "won", "--propensity-col", "p")
    with pytest.raises(CommandError, match="no such file"):
        _run(str(tmp_path / "missing.csv"), "--arm-col", "a", "--reward-col", "b", "--uniform")


def test_uniform_policy_estimated_from_the_thompson_log_matches_the_random_log(data_dir):
    """Open Bandit: the production Bernoulli-TS log with its real propensities; the uniform-random policy picks each
    of the 80 items with probability 1/80 in a position. Its estimated value must cover the random log's own CTR."""
    bts = pd.read_csv(data_dir / "open_bandit_sample" / "bts_all.csv")
    random_log = pd.read_csv(data_dir / "open_bandit_sample" / "random_all.csv")
    truth = random_log["click"].mean()
    assert round(truth, 4) == 0.0038
    items = random_log["item_id"].nunique()
    target = np.full(len(bts), 1 / items)
    for estimate in (
        offpolicy.ipw(bts["click"].to_numpy(), bts["propensity_score"].to_numpy(), target),
        offpolicy.snipw(bts["click"].to_numpy(), bts["propensity_score"].to_numpy(), target),
    ):
        assert estimate.ci_low <= truth <= estimate.ci_high
        assert 0 < estimate.ci_low < estimate.value < estimate.ci_high < 0.01
    # the naive estimate (the BTS log's own CTR) answers a different question: the logging policy's value
    assert round(bts["click"].mean(), 4) == 0.0042


def test_thompson_replay_on_hillstrom_reaches_95_percent_of_the_best_arm(data_dir):
    frame = pd.read_csv(data_dir / "hillstrom.csv").sample(frac=1.0, random_state=42)
    names = sorted(frame["segment"].unique())
    arms = frame["segment"].map({n: i for i, n in enumerate(names)}).to_numpy()
    kept = replay(arms, frame["visit"].to_numpy(), len(names), seed=42)
    best = frame.groupby("segment")["visit"].mean().max()
    assert len(kept) > 15_000  # about a third of the stream matches the logged arm
    second_half = kept[len(kept) // 2 :]
    assert second_half.mean() >= 0.95 * best
