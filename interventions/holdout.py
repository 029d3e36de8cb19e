"""Deterministic holdout assignment and measured lift.

Assignment: sha256("<campaign>:<customer>") mapped to [0, 1); below the holdout share = holdout. The same
pair always lands in the same arm, on any machine. Lift: difference of proportions (conversion) or means
(revenue) between treated and holdout with a normal-approximation CI and a two-sided p-value (Welch for
means). Sample-ratio mismatch: chi-square goodness of fit of arm sizes against the configured shares.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

from scipy import stats

SRM_ALPHA = 0.001


def bucket(campaign_id: int | str, customer_id: int | str) -> float:
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout(campaign_id, customer_id, share: float) -> bool:
    return bucket(campaign_id, customer_id) < share


@dataclass
class Lift:
    metric: str
    treated_n: int
    control_n: int
    treated_rate: float
    control_rate: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = 0.95

    def as_dict(self) -> dict:
        return asdict(self)


def proportion_lift(
    treated_hits: int,
    treated_n: int,
    control_hits: int,
    control_n: int,
    *,
    metric: str = "conversion",
    confidence: float = 0.95,
) -> Lift:
    if treated_n == 0 or control_n == 0:
        raise ValueError("both arms need at least one customer to measure lift")
    p1, p0 = treated_hits / treated_n, control_hits / control_n
    diff = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / treated_n + p0 * (1 - p0) / control_n)
    pooled = (treated_hits + control_hits) / (treated_n + control_n)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / treated_n + 1 / control_n))
    z = stats.norm.ppf(0.5 + confidence / 2)
    p_value = 2 * stats.norm.sf(abs(diff) / se0) if se0 > 0 else 1.0
    return Lift(metric, treated_n, control_n, p1, p0, diff, diff - z * se, diff + z * se, float(p_value), confidence)


def mean_lift(treated: list[float], control: list[float], *, metric: str = "revenue", confidence: float = 0.95) -> Lift:
    n1, n0 = len(treated), len(control)
    if n1 < 2 or n0 < 2:
        raise ValueError("both arms need at least two customers to measure revenue lift")
    m1, m0 = sum(treated) / n1, sum(control) / n0
    v1 = sum((x - m1) ** 2 for x in treated) / (n1 - 1)
    v0 = sum((x - m0) ** 2 for x in control) / (n0 - 1)
    se = math.sqrt(v1 / n1 + v0 / n0)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p_value = float(stats.ttest_ind(treated, control, equal_var=False).pvalue) if se > 0 else 1.0
    return Lift(metric, n1, n0, m1, m0, m1 - m0, m1 - m0 - z * se, m1 - m0 + z * se, p_value, confidence)


def sample_ratio_mismatch(observed: dict[str, int], expected_share: dict[str, float]) -> dict:
    """Chi-square test of arm sizes against the configured shares; `mismatch` when p < 0.001."""
    total = sum(observed.values())
    arms = [a for a in expected_share if expected_share[a] > 0]
    if total == 0 or len(arms) < 2:
        return {"p_value": None, "mismatch": False}
    share_sum = sum(expected_share[a] for a in arms)
    expected = [total * expected_share[a] / share_sum for a in arms]
    chi2, p = stats.chisquare([observed.get(a, 0) for a in arms], expected)
    return {"chi2": float(chi2), "p_value": float(p), "mismatch": bool(p < SRM_ALPHA)}
