"""evaluate_uplift on the Hillstrom e-mail test: the CatBoost S-learner is the primary model and reaches the
scikit-uplift SoloModel figures on the held-out half; the T-learner is reported beside it."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def _run(*args) -> tuple[list[str], dict]:
    out = StringIO()
    call_command("evaluate_uplift", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return lines, json.loads(lines[-1])


def test_hillstrom_womens_vs_no_email_meets_the_solomodel_figures(data_dir):
    lines, result = _run(
        str(data_dir / "hillstrom.csv"), "--treatment", "Womens E-Mail", "--control", "No E-Mail", "--target", "visit"
    )
    assert result["model"] == "s_learner" and result["seed"] == 42
    assert result["train_rows"] + result["test_rows"] == 42693 and abs(result["train_rows"] - result["test_rows"]) <= 1
    assert result["uplift_at_30"] >= 0.0787
    assert result["qini"] >= 0.0688
    assert 0 < result["auuc"] < result["qini"]
    comparison = result["comparison"]
    assert comparison["approach"] == "t_learner" and comparison["qini"] > 0
    assert any(line.startswith("t_learner (comparison)") for line in lines[:-1])


def test_bad_input_is_a_clear_error(tmp_path, data_dir):
    with pytest.raises(CommandError, match="file not found"):
        _run(str(tmp_path / "missing.csv"), "--treatment", "a", "--control", "b", "--target", "visit")
    with pytest.raises(CommandError, match="no column contains both"):
        _run(str(data_dir / "hillstrom.csv"), "--treatment", "SMS", "--control", "No E-Mail", "--target", "visit")
    with pytest.raises(CommandError, match="--folds"):
        _run(str(data_dir / "hillstrom.csv"), "--treatment", "x", "--control", "y", "--target", "visit", "--folds", "1")
