"""Off-policy value estimates of a target policy from a log of (context, arm, reward, logging propensity).

- IPW: mean of w * r with w = pi(a|x) / p(a|x).
- Self-normalised IPW: sum(w * r) / sum(w); a little biased, much less variance when weights are large.
- Doubly robust: the reward model's value of the policy plus the IPW-weighted residual of the logged arm; exact
  when either the reward model or the propensities are right.
Confidence intervals are normal approximations over the per-row contributions (delta method for SNIPW).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass
class Estimate:
    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict:
        return asdict(self)


def _normal(contributions: np.ndarray, value: float | None = None) -> Estimate:
    value = float(np.mean(contributions)) if value is None else value
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    half = z * float(np.std(contributions, ddof=1)) / np.sqrt(len(contributions))
    return Estimate(float(value), float(value - half), float(value + half))


def _weights(target_p: np.ndarray, logged_p: np.ndarray) -> np.ndarray:
    if np.any(logged_p <= 0):
        raise ValueError("every logged propensity must be above 0")
    return target_p / logged_p


def ipw(rewards: np.ndarray, logged_p: np.ndarray, target_p: np.ndarray) -> Estimate:
    """`target_p`: the target policy's probability of the logged arm in each row."""
    return _normal(_weights(target_p, logged_p) * rewards)


def snipw(rewards: np.ndarray, logged_p: np.ndarray, target_p: np.ndarray) -> Estimate:
    w = _weights(target_p, logged_p)
    value = float(np.sum(w * rewards) / np.sum(w))
    return _normal(w * (rewards - value) / np.mean(w) + value, value)


def doubly_robust(
    rewards: np.ndarray,
    logged_p: np.ndarray,
    arms: np.ndarray,
    target_all: np.ndarray,
    q_all: np.ndarray,
) -> Estimate:
    """`arms`: logged arm index per row; `target_all` and `q_all`: rows x arms, the target policy's
    probabilities and the reward model's predictions for every arm."""
    rows = np.arange(len(arms))
    direct = np.sum(target_all * q_all, axis=1)
    w = _weights(target_all[rows, arms], logged_p)
    return _normal(direct + w * (rewards - q_all[rows, arms]))
