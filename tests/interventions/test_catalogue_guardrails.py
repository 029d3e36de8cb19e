import pytest

from interventions.catalogue import CATALOGUE, guardrail_violations, next_best_action


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_template_passes_the_guardrails(code):
    assert guardrail_violations(CATALOGUE[code].template) == []


@pytest.mark.parametrize(
    "text,rule",
    [
        ("Only 2 left in stock!", "fake scarcity"),
        ("Selling fast - 14 people have this in 3 carts", "fake scarcity"),
        ("Offer ends in 2 hours", "countdown"),
        ("Last chance: today only", "countdown"),
        ("Hurry, 10 minutes left", "countdown"),
    ],
)
def test_dark_patterns_are_caught(text, rule):
    assert rule in guardrail_violations(text)


def test_next_best_action_is_highest_margin_after_cost_or_none():
    code, value = next_best_action(
        {"reminder": 0.02, "bundle_offer": 0.03}, order_value=80, base_probability=0.1, margin=0.3
    )
    # reminder: 0.02*80*0.3 - 0.02 = 0.46; bundle: 0.03*80*0.2 - (0.05 + 0.1*80*0.1) = -0.37
    assert code == "reminder" and round(value, 2) == 0.46
    assert next_best_action({"reminder": 0.0001}, order_value=10, base_probability=0.1, margin=0.3) == (None, 0.0)
