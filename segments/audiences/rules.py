"""Ordered rules with fixed or quantile thresholds. Each customer of the universe lands in the first rule it
matches, otherwise in the catch-all, so the segments are mutually exclusive and together exhaustive.

Quantile thresholds are computed over the whole universe (not over what earlier rules left), so a rule means
the same thing wherever it sits in the order. A missing feature value never matches a rule.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import pandas as pd
from django.conf import settings

from cartportal.errors import AppError

OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
FEATURES = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "abandoned_carts"]
FEATURES += ["average_order_value", "sessions_30d", "cart_items", "engagement_score", "profitability"]


class RuleError(AppError, ValueError):
    """A rule that cannot be evaluated (the message names the rule and the field)."""


@dataclass(frozen=True)
class Rule:
    name: str
    feature: str
    op: str
    value: float
    threshold: str = "fixed"  # or "quantile" (value in [0, 1])
    strategic_fit: float = 0.5

    @classmethod
    def parse(cls, raw: dict, position: int) -> Rule:
        where = f"rule {position + 1}"
        try:
            rule = cls(
                name=str(raw["name"]).strip(),
                feature=str(raw["feature"]),
                op=str(raw["op"]),
                value=float(raw["value"]),
                threshold=str(raw.get("threshold", "fixed")),
                strategic_fit=float(raw.get("strategic_fit", 0.5)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RuleError(f"{where}: needs name, feature, op and a numeric value ({error})") from error
        # float() accepts "nan" and "inf": such a threshold matches nothing and cannot be stored as JSON.
        if not (math.isfinite(rule.value) and math.isfinite(rule.strategic_fit)):
            raise RuleError(f"{where}: the value and the strategic fit must be finite numbers")
        if not rule.name:
            raise RuleError(f"{where}: the name is empty")
        if rule.feature not in FEATURES:
            raise RuleError(f"{where}: unknown feature {rule.feature!r}; use one of {', '.join(FEATURES)}")
        if rule.op not in OPERATORS:
            raise RuleError(f"{where}: unknown operator {rule.op!r}; use one of {' '.join(OPERATORS)}")
        if rule.threshold not in ("fixed", "quantile"):
            raise RuleError(f"{where}: threshold must be 'fixed' or 'quantile'")
        if rule.threshold == "quantile" and not 0 <= rule.value <= 1:
            raise RuleError(f"{where}: a quantile threshold is between 0 and 1")
        if not 0 <= rule.strategic_fit <= 1:
            raise RuleError(f"{where}: strategic fit is between 0 and 1")
        return rule


def parse_rules(raw_rules: list, catch_all: str) -> list[Rule]:
    if not isinstance(raw_rules, list):
        raise RuleError("rules must be a list")
    limit = settings.CARTPORTAL_AUDIENCE_MAX_RULES
    if len(raw_rules) > limit:
        raise RuleError(f"an audience has at most {limit} rules ({len(raw_rules)} given)")
    rules = [Rule.parse(raw, i) for i, raw in enumerate(raw_rules)]
    names = [r.name for r in rules] + [catch_all]
    if len(set(names)) != len(names):
        raise RuleError("segment names (and the catch-all) must be distinct")
    return rules


def threshold_of(rule: Rule, universe: pd.DataFrame) -> float:
    if rule.threshold == "fixed":
        return rule.value
    values = pd.to_numeric(universe[rule.feature], errors="coerce").dropna()
    return float(values.quantile(rule.value)) if len(values) else float("nan")


def assign(universe: pd.DataFrame, rules: list[Rule], catch_all: str) -> tuple[pd.Series, dict[str, float]]:
    """The segment of every row (first matching rule, else the catch-all) and each rule's threshold."""
    labels = pd.Series(catch_all, index=universe.index, dtype=object)
    unassigned = pd.Series(True, index=universe.index)
    thresholds = {}
    for rule in rules:
        threshold = thresholds[rule.name] = threshold_of(rule, universe)
        values = pd.to_numeric(universe[rule.feature], errors="coerce")
        matches = OPERATORS[rule.op](values, threshold).fillna(False).astype(bool) & unassigned
        labels[matches] = rule.name
        unassigned &= ~matches
    return labels, thresholds


def apply_size_bounds(
    labels: pd.Series, rules: list[Rule], catch_all: str, min_size: int, max_size: int | None, policy: str
) -> tuple[pd.Series, dict[str, list[str]]]:
    """Segments outside [min_size, max_size] are merged into the catch-all (policy "merge") or flagged invalid
    ("flag"). The catch-all cannot merge into itself, so it is flagged whenever it is out of bounds."""

    def out_of_bounds(size: int) -> bool:
        return size < min_size or (max_size is not None and size > max_size)

    sizes = labels.value_counts()
    flags: dict[str, list[str]] = {}
    labels = labels.copy()
    for rule in rules:
        size = int(sizes.get(rule.name, 0))
        if not out_of_bounds(size):
            continue
        reason = f"size {size} outside [{min_size}, {max_size if max_size is not None else '∞'}]"
        if policy == "merge":
            labels[labels == rule.name] = catch_all
            flags.setdefault(rule.name, []).append(f"merged into {catch_all}: {reason}")
        else:
            flags.setdefault(rule.name, []).append(f"invalid: {reason}")
    catch_size = int((labels == catch_all).sum())
    if out_of_bounds(catch_size):
        flags.setdefault(catch_all, []).append(
            f"invalid: size {catch_size} outside [{min_size}, {max_size if max_size is not None else '∞'}]"
        )
    return labels, flags


# A worked example (shown on the audiences page, used by the demo): top spenders by quantile, then repeat buyers,
# then lapsed customers; everyone else falls to the catch-all.
EXAMPLE_RULES = [
    {
        "name": "High spenders",
        "feature": "monetary",
        "op": ">=",
        "value": 0.8,
        "threshold": "quantile",
        "strategic_fit": 0.8,
    },
    {"name": "Repeat buyers", "feature": "frequency", "op": ">=", "value": 2, "strategic_fit": 0.6},
    {"name": "Lapsed", "feature": "recency_days", "op": ">", "value": 90, "strategic_fit": 0.4},
]
