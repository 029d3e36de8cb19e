"""Every customer of a universe lands in exactly one audience segment, including values exactly on the
thresholds; size bounds hold or the segment is flagged (generated data)."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segments.audiences.rules import OPERATORS, Rule, RuleError, apply_size_bounds, assign, parse_rules

CATCH_ALL = "Everyone else"
THRESHOLDS = [0.0, 1.0, 2.0, 90.0, 250.5]

values = st.one_of(st.sampled_from(THRESHOLDS), st.floats(-10, 500, allow_nan=False), st.none())
rules_strategy = st.lists(
    st.tuples(
        st.sampled_from(["recency_days", "frequency", "monetary"]),
        st.sampled_from(list(OPERATORS)),
        st.one_of(
            st.tuples(st.just("fixed"), st.sampled_from(THRESHOLDS)),
            st.tuples(st.just("quantile"), st.sampled_from([0.0, 0.25, 0.5, 1.0])),
        ),
    ),
    max_size=5,
)


def reference_segment(row: dict, rules: list[Rule], thresholds: dict) -> str:
    for rule in rules:
        value = row[rule.feature]
        if value is not None and not pd.isna(value) and OPERATORS[rule.op](float(value), thresholds[rule.name]):
            return rule.name
    return CATCH_ALL


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries({"recency_days": values, "frequency": values, "monetary": values}), max_size=40
    ),
    raw_rules=rules_strategy,
    min_size=st.integers(0, 5),
    max_size=st.one_of(st.none(), st.integers(0, 30)),
    policy=st.sampled_from(["merge", "flag"]),
)
def test_every_customer_in_exactly_one_segment(rows, raw_rules, min_size, max_size, policy):
    universe = pd.DataFrame(rows, columns=["recency_days", "frequency", "monetary"], dtype=float)
    rules = [Rule(f"S{i}", f, op, v, kind) for i, (f, op, (kind, v)) in enumerate(raw_rules)]
    labels, thresholds = assign(universe, rules, CATCH_ALL)
    assert len(labels) == len(universe) and labels.notna().all()
    names = {r.name for r in rules} | {CATCH_ALL}
    assert set(labels) <= names
    for i, row in universe.iterrows():
        record = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        assert labels[i] == reference_segment(record, rules, thresholds)
    bounded, flags = apply_size_bounds(labels, rules, CATCH_ALL, min_size, max_size, policy)
    assert len(bounded) == len(universe) and set(bounded) <= names
    sizes = bounded.value_counts()
    for name in names:
        size = int(sizes.get(name, 0))
        if name != CATCH_ALL and policy == "merge":
            assert size == 0 or min_size <= size <= (max_size if max_size is not None else size)
        inside = min_size <= size and (max_size is None or size <= max_size)
        assert inside or name in flags


def test_value_exactly_on_threshold_goes_to_the_inclusive_rule():
    universe = pd.DataFrame({"monetary": [99.99, 100.0, 100.01], "frequency": [1, 1, 1], "recency_days": [5, 5, 5]})
    rules = [Rule("High", "monetary", ">=", 100.0), Rule("Low", "monetary", "<", 100.0)]
    labels, _ = assign(universe, rules, CATCH_ALL)
    assert labels.tolist() == ["Low", "High", "High"]


def test_quantile_threshold_is_computed_over_the_universe():
    universe = pd.DataFrame({"monetary": [1.0, 2.0, 3.0, 4.0, 5.0], "frequency": 1, "recency_days": 1})
    labels, thresholds = assign(universe, [Rule("Top", "monetary", ">", 0.5, "quantile")], CATCH_ALL)
    assert thresholds["Top"] == 3.0
    assert labels.tolist() == [CATCH_ALL] * 3 + ["Top"] * 2


@pytest.mark.parametrize(
    "raw, message",
    [
        ([{"name": "A", "feature": "nope", "op": ">", "value": 1}], "unknown feature"),
        ([{"name": "A", "feature": "monetary", "op": "~", "value": 1}], "unknown operator"),
        ([{"name": "A", "feature": "monetary", "op": ">", "value": "x"}], "numeric value"),
        ([{"name": "A", "feature": "monetary", "op": ">", "value": 2, "threshold": "quantile"}], "between 0 and 1"),
        ([{"name": CATCH_ALL, "feature": "monetary", "op": ">", "value": 2}], "distinct"),
    ],
)
def test_bad_rules_have_clear_errors(raw, message):
    with pytest.raises(RuleError, match=message):
        parse_rules(raw, CATCH_ALL)
