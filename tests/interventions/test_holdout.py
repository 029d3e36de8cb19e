from interventions.holdout import bucket, mean_lift, proportion_lift, sample_ratio_mismatch


def test_bucket_is_stable_and_uniform():
    assert bucket(7, 42) == bucket(7, 42) and bucket(7, 42) != bucket(8, 42)
    share = sum(bucket(1, i) < 0.3 for i in range(20000)) / 20000
    assert abs(share - 0.3) < 0.01


def test_proportion_lift_ci_and_p_value():
    lift = proportion_lift(151, 1000, 106, 1000)
    assert round(lift.difference, 3) == 0.045
    assert lift.ci_low < 0.045 < lift.ci_high and round(lift.ci_high - lift.ci_low, 3) == 0.058
    assert 0.002 < lift.p_value < 0.004
    null = proportion_lift(100, 1000, 100, 1000)
    assert null.difference == 0 and null.p_value == 1.0


def test_mean_lift_matches_welch():
    lift = mean_lift([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 2.0])
    assert lift.difference == 1.0 and lift.ci_low < 1.0 < lift.ci_high and 0.1 < lift.p_value < 0.3


def test_sample_ratio_mismatch():
    assert (
        sample_ratio_mismatch({"holdout": 1000, "treated": 9000}, {"holdout": 0.1, "treated": 0.9})["mismatch"] is False
    )
    assert (
        sample_ratio_mismatch({"holdout": 1300, "treated": 8700}, {"holdout": 0.1, "treated": 0.9})["mismatch"] is True
    )
